"""The layout holds: only images/engine/ talks to Docker, pages never reach the
engine but through service functions, and every package says what it holds."""

import ast
from pathlib import Path

IMAGES = Path(__file__).resolve().parent.parent / "images"


def _imports(path):
    """(module, names) for every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(IMAGES.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            names = [alias.name for alias in node.names]
            yield module, names


def _modules(folder=IMAGES):
    return [path for path in folder.rglob("*.py") if "migrations" not in path.parts]


def _is_engine(module, names=()):
    return module == "images.engine" or module.startswith("images.engine.") or (
        module == "images" and "engine" in names)


def test_only_the_engine_package_imports_docker():
    offenders = [
        f"{path.relative_to(IMAGES.parent)} imports {module}"
        for path in _modules() if "engine" != path.relative_to(IMAGES).parts[0]
        for module, _ in _imports(path) if module == "docker" or module.startswith("docker.")
    ]
    assert offenders == []
    # and the check sees a real import where there is one
    assert any(module == "docker" for module, _ in _imports(IMAGES / "engine" / "client.py"))


def test_no_view_module_imports_the_engine():
    offenders = [
        f"{path.relative_to(IMAGES.parent)} imports {module}"
        for path in _modules(IMAGES / "views")
        for module, names in _imports(path) if _is_engine(module, names)
    ]
    assert offenders == []


def test_the_api_takes_from_the_engine_only_its_errors():
    """The API maps engine failures to status codes, so it may name the error
    classes; it never calls the engine itself."""
    offenders = []
    for path in _modules(IMAGES / "api"):
        for module, names in _imports(path):
            if _is_engine(module, names):
                calls = [name for name in names if not name.endswith(("Error", "Unavailable", "NotFound"))]
                if calls or module == "images":
                    offenders.append(f"{path.relative_to(IMAGES.parent)} imports {module} {calls}")
    assert offenders == []


def test_the_api_and_the_pages_take_nothing_from_each_other():
    """Both adapt HTTP to the same service functions; what they share (the
    streamed response) sits below both of them."""
    offenders = [
        f"{path.relative_to(IMAGES.parent)} imports {module}"
        for folder, other in (("api", "views"), ("views", "api"))
        for path in _modules(IMAGES / folder)
        for module, names in _imports(path)
        if module == f"images.{other}" or module.startswith(f"images.{other}.")
        or (module == "images" and other in names)
    ]
    assert offenders == []


def test_every_package_says_what_it_holds():
    packages = [init.parent for init in IMAGES.rglob("__init__.py")
                if not {"migrations", "management", "templatetags"} & set(init.parent.parts)]
    assert len(packages) >= 7  # engine, jobs, builds, lifecycle, catalog, accounts, views
    silent = [str(package.relative_to(IMAGES.parent)) for package in packages
              if not ast.get_docstring(ast.parse((package / "__init__.py").read_text()))]
    assert silent == []


def _module_name(path):
    parts = path.relative_to(IMAGES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph():
    """Each module of images/ and the modules of images/ it imports, at its top
    or inside a function alike (a deferred import is still an arrow)."""
    modules = {_module_name(path): path for path in _modules()}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, names in _imports(path):
            for imported in names or [None]:
                target = f"{module}.{imported}" if imported and f"{module}.{imported}" in modules else module
                if target in modules and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


# Celery's tasks adapt the queue into jobs.control, and control sends the task by
# its function: a pair of its own issue, not yet untied.
KNOWN_PAIRS = {("images.jobs.control", "images.tasks")}


def test_no_two_modules_import_each_other():
    graph = _import_graph()
    assert "images.models" in graph["images.accounts.roles"]  # the check sees a real arrow
    pairs = {tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph[b]}
    assert pairs - KNOWN_PAIRS == set()


def test_only_pages_take_the_template_helpers():
    """Template tags and filters are the pages' own; a service takes what it
    shares with them (human_size) from a plain module below both."""
    offenders = [
        f"{path.relative_to(IMAGES.parent)} imports {module}"
        for path in _modules() if not {"templatetags", "views"} & set(path.relative_to(IMAGES).parts)
        for module, names in _imports(path)
        if module.startswith("images.templatetags") or (module == "images" and "templatetags" in names)
    ]
    assert offenders == []
