"""Web2Text: relay, sync engine, desktop app and sandbox."""

# The one version number of the product: pyproject reads it
# ([tool.setuptools.dynamic]), `web2text --version` prints it, and the
# installers (deb, dmg, Windows setup) are stamped with it.
__version__ = "0.1.0"
