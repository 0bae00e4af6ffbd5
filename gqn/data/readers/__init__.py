"""One reader per posed-image format; each returns a ViewSet in the project's one pose convention."""
