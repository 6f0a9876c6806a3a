; Inno Setup 6 script for the Web2Text desktop app (Windows x64).
; Built by packaging\windows\build-windows.ps1 after PyInstaller has made dist\web2text\:
;   ISCC.exe /DAppVersion=1.2.3 packaging\windows\web2text.iss
; Installs per user by default (no admin rights needed); an administrator can
; choose "install for all users" in the first page.

#ifndef AppVersion
  #error Pass the version: ISCC /DAppVersion=x.y.z (build-windows.ps1 reads app/__init__.py)
#endif
#define Root "..\.."

[Setup]
; The AppId ties upgrades and the uninstaller together: never change it.
AppId={{C69CDA10-B236-44C7-87E7-7105D19609B2}
AppName=Web2Text
AppVersion={#AppVersion}
AppVerName=Web2Text {#AppVersion}
AppPublisher=Web2Text
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Web2Text
DefaultGroupName=Web2Text
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#Root}\dist
OutputBaseFilename=Web2Text-{#AppVersion}-windows-x64-setup
SetupIconFile={#Root}\build\icons\web2text.ico
UninstallDisplayIcon={app}\web2text.exe
UninstallDisplayName=Web2Text
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; Closes a running Web2Text (it lives in the tray) before files are replaced.
CloseApplications=force
RestartApplications=no
#ifdef Sign
; build-windows.ps1 defines the sign tool from W2T_SIGN_COMMAND.
SignTool=signtool
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "startatlogin"; Description: "Start Web2Text when I sign in (it waits in the notification area)"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "{#Root}\dist\web2text\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Web2Text"; Filename: "{app}\web2text.exe"
Name: "{autoprograms}\Web2Text demo"; Filename: "{app}\web2text.exe"; Parameters: "--demo"; Comment: "Try Web2Text with simulated customers"
Name: "{autodesktop}\Web2Text"; Filename: "{app}\web2text.exe"; Tasks: desktopicon

[Registry]
; Same value as app.autostart writes, so the in-app switch and this task agree.
; HKA is HKCU for a per-user install and HKLM for an all-users install.
Root: HKA; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "Web2Text"; ValueData: """{app}\web2text.exe"""; Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
Filename: "{app}\web2text.exe"; Description: "{cm:LaunchProgram,Web2Text}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only the program folder: the user's data (%LOCALAPPDATA%\Web2Text) is kept.
Type: filesandordirs; Name: "{app}\_internal"
