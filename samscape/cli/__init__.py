"""The `samscape` command: thin front end over the library."""
