# Builds dist\web2text\ (PyInstaller) and dist\Web2Text-<version>-windows-x64-setup.exe
# (Inno Setup 6) on Windows (a GitHub windows-2022 runner or a PC with Python 3.11+
# and this project installed), then installs it silently into a temporary folder
# and smoke-tests the installed program offscreen.
#
#   pwsh packaging/windows/build-windows.ps1 [-SkipSmokeTest]
#
# Environment: PYTHON (default: python), W2T_SIGN_COMMAND (an Inno Setup SignTool
# command line, e.g. signtool with a certificate; unsigned when unset).
param([switch]$SkipSmokeTest)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root
$Py = if ($env:PYTHON) { $env:PYTHON } else { "python" }

function Invoke-Checked([string]$File, [string[]]$Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Version = (& $Py packaging/check_version.py).Trim()
Write-Host "[build-windows] PyInstaller build of Web2Text $Version"
$env:W2T_ICON_DIR = Join-Path $Root "build\icons"
Invoke-Checked $Py @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
    "--distpath", "dist", "--workpath", "build\pyinstaller", "packaging\web2text.spec")
if (-not (Test-Path "dist\web2text\web2text.exe")) { throw "PyInstaller made no dist\web2text\web2text.exe" }

# Inno Setup 6 is on GitHub's Windows images; install it through Chocolatey elsewhere.
$Iscc = @(
    "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
    "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
    "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe"
) | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $Iscc) {
    Write-Host "[build-windows] installing Inno Setup with Chocolatey"
    Invoke-Checked "choco" @("install", "innosetup", "--no-progress", "-y")
    $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
}
$IsccArgs = @("/Qp", "/DAppVersion=$Version")
if ($env:W2T_SIGN_COMMAND) { $IsccArgs += @("/Ssigntool=$env:W2T_SIGN_COMMAND", "/DSign=1") }
$IsccArgs += "packaging\windows\web2text.iss"
Invoke-Checked $Iscc $IsccArgs
$Setup = "dist\Web2Text-$Version-windows-x64-setup.exe"
if (-not (Test-Path $Setup)) { throw "Inno Setup made no $Setup" }
Write-Host "[build-windows] $Setup ($([math]::Round((Get-Item $Setup).Length / 1MB, 1)) MB)"

if ($SkipSmokeTest) { exit 0 }
# Install for this user only into a temporary folder, like a dealer would (minus the wizard).
$Target = Join-Path ([IO.Path]::GetTempPath()) "web2text-smoke"
if (Test-Path $Target) { Remove-Item -Recurse -Force $Target }
$p = Start-Process -FilePath $Setup -Wait -PassThru -ArgumentList @(
    "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER", "/DIR=`"$Target`"",
    "/LOG=`"$Target.log`"")
if ($p.ExitCode -ne 0) { throw "setup exited with $($p.ExitCode)" }
$Exe = Join-Path $Target "web2text.exe"
$env:QT_QPA_PLATFORM = "offscreen"
# A windowed program: Start-Process -Wait gives its exit code.
$p = Start-Process -FilePath $Exe -ArgumentList "--version" -Wait -PassThru -NoNewWindow
if ($p.ExitCode -ne 0) { throw "web2text --version exited with $($p.ExitCode)" }
$watch = [Diagnostics.Stopwatch]::StartNew()
$p = Start-Process -FilePath $Exe -ArgumentList @("--demo", "--quit-after", "5") -Wait -PassThru -NoNewWindow
if ($p.ExitCode -ne 0) { throw "web2text --demo --quit-after 5 exited with $($p.ExitCode)" }
Write-Host "[build-windows] installed demo ran and quit in $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s"
$Uninstaller = Join-Path $Target "unins000.exe"
Start-Process -FilePath $Uninstaller -ArgumentList @("/VERYSILENT", "/SUPPRESSMSGBOXES") -Wait | Out-Null
