"""The command line: thin click commands that call the library and map errors to exit codes."""
