"""Data flows one way: a module may import only its own layer or lower ones."""

import ast

from conftest import ROOT

LAYERS = [
    {"config", "taxonomy", "text"},
    {"data", "dataset", "metrics"},
    {"models"},
    {"tracking"},
    {"training"},
    {"tagger"},
    {"evaluate", "feeds", "pyfunc", "mlflow_model", "spark", "serve"},
    {"cli", "__init__"},
]


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_no_module_imports_a_higher_layer():
    package = ROOT / "src" / "alignclf"
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(package).with_suffix("").parts)
        own = layer_of(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "alignclf":
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alignclf."):
                targets = [node.module.removeprefix("alignclf.")]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix("alignclf.") for a in node.names if a.name.startswith("alignclf.")]
            else:
                continue
            for target in targets:
                assert layer_of(target) <= own, f"{name} imports {target}, a higher layer"
