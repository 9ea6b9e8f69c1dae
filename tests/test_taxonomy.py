import ast

import pytest

from alignclf.taxonomy import Taxonomy, TaxonomyError
from conftest import ROOT


def test_project_taxonomy_has_the_guide_labels(taxonomy):
    assert taxonomy.pillars == ["trade", "security", "connectivity"]
    assert set(taxonomy.sectors) == {"energy", "agriculture", "infrastructure", "terrorism", "cyber", "drug_trafficking", "ppp"}
    assert all(label.description for label in taxonomy.labels)
    assert all(label.usual_pillar in taxonomy.pillars for label in taxonomy.labels if label.level == "sectors")


def _code_strings(tree: ast.AST) -> set[str]:
    """String constants of a module, docstrings excluded."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


def test_no_label_name_is_written_into_code(taxonomy):
    for path in (ROOT / "src" / "alignclf").rglob("*.py"):
        strings = _code_strings(ast.parse(path.read_text()))
        named = strings & set(taxonomy.names)
        assert not named, f"{path.name} names label(s) {sorted(named)} in code"


def test_digest_ignores_descriptions_but_not_labels():
    base = {"pillars": [{"name": "a", "description": "x"}], "sectors": [{"name": "b"}]}
    reworded = {"pillars": [{"name": "a", "description": "y"}], "sectors": [{"name": "b"}]}
    renamed = {"pillars": [{"name": "a"}], "sectors": [{"name": "c"}]}
    assert Taxonomy.from_dict(base).digest == Taxonomy.from_dict(reworded).digest
    assert Taxonomy.from_dict(base).digest != Taxonomy.from_dict(renamed).digest


@pytest.mark.parametrize(
    "tree, message",
    [
        ({"pillars": [{"name": "a"}], "sectors": [{"name": "a"}]}, "unique"),
        ({"pillars": [{"name": "a"}]}, "'sectors' must be a non-empty list"),
        ({"pillars": [{"name": "a"}], "sectors": [{"name": "b", "usual_pillar": "z"}]}, "unknown usual_pillar"),
        ({"pillars": [{"name": "a"}], "sectors": [{"name": "b"}], "extra": []}, "unknown key"),
    ],
)
def test_malformed_taxonomies_are_refused(tree, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_dict(tree)
