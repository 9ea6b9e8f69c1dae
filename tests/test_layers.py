"""Data flows one way: a module may depend only on its own layer or lower ones, by import or by path."""

import ast
import re

from conftest import ROOT

PACKAGE = ROOT / "src" / "alignclf"

# Lowest first. The recipe (training) sits above the Tagger because every figure it reports
# comes from the exported folder run through the Tagger, as users run it.
LAYERS = [
    {"errors"},
    {"config", "taxonomy", "text", "language"},
    {"context", "data", "metrics", "decision"},
    {"articles", "dataset"},
    {"models"},
    {"plots", "tracking"},
    {"tagger"},
    {"routing"},
    {"records", "resolve", "evaluate"},
    {"pyfunc", "mlflow_model"},
    {"training"},
    {"feeds", "batch", "spark", "serve", "report", "report_page", "review"},
    {"cli", "__init__"},
]
MODULES = {path.relative_to(PACKAGE).with_suffix("").parts[0] for path in PACKAGE.rglob("*.py")}
# "alignclf.x", "alignclf.x:Class", "x.py": a module named by a string (import_module, entry points, file paths).
NAMED = re.compile(r"^(?:alignclf\.)?([a-z_]+)(?:\.[a-z_]+)*(?::\w+)?$")


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def edges(path):
    """Every alignclf module a file depends on: imports, and strings that name a module or its file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "alignclf":
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alignclf."):
            yield node.module.removeprefix("alignclf.")
        elif isinstance(node, ast.Import):
            yield from (a.name.removeprefix("alignclf.") for a in node.names if a.name.startswith("alignclf."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = NAMED.match(node.value)
            named_as_module = match and (node.value.startswith("alignclf.") or node.value.endswith(".py") or ":" in node.value)
            if named_as_module and match.group(1) in MODULES:
                yield match.group(1)


def test_every_module_has_a_layer():
    assert set().union(*LAYERS) >= MODULES, MODULES - set().union(*LAYERS)


def test_no_module_depends_on_a_higher_layer():
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = layer_of(name)
        for target in edges(path):
            assert layer_of(target) <= own, f"{name} depends on {target}, a higher layer"


def test_the_check_sees_import_module_and_path_edges(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "from importlib import import_module\n"
        "import_module('alignclf.cli')\n"
        "ENTRY = __file__.replace('sneaky.py', 'mlflow_model.py')\n"
        "KIND = 'alignclf.models.tfidf:TfidfModel'\n"
    )
    assert set(edges(sneaky)) == {"cli", "mlflow_model", "models"}
