"""The ``ocre`` command line: a thin skin that parses, calls the library, and reports."""
