"""The command line: ``paywindow`` (``paywindow.cli.app``) and the helpers of its commands."""
