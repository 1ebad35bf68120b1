"""The pages: thin views that validate a request, call the service functions of
the other packages with `request.engine`, and render a template."""
