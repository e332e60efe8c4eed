"""docs/recipes.md shows every recipe file under docs/recipes/ as it is, and is linked from
the README's documentation list and from docs/api.md."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "recipes.md"
RECIPES = sorted((ROOT / "docs" / "recipes").iterdir())
FENCED = re.compile(r"^```[a-z]*\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def test_there_is_a_recipe_for_each_client() -> None:
    assert {r.name for r in RECIPES} == {
        "follow-browser.js",
        "follow-eventsource.mjs",
        "follow-fetch-event-source.mjs",
        "follow_httpx_sse.py",
        "follow-curl.sh",
        "upload-storage-blob.mjs",
        "upload_azure_storage_blob.py",
    }


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_the_page_shows_the_recipe_file_verbatim_under_its_link(recipe: Path) -> None:
    text = PAGE.read_text("utf-8")
    link = f"[`docs/recipes/{recipe.name}`](recipes/{recipe.name}):\n\n"
    assert link in text, f"no link to {recipe.name}"
    shown = FENCED.match(text, text.index(link) + len(link))
    assert shown is not None, f"no code block after the link to {recipe.name}"
    assert shown.group(1) == recipe.read_text("utf-8")


@pytest.mark.parametrize("doc", ["README.md", "docs/api.md"])
def test_the_recipes_page_is_linked(doc: str) -> None:
    target = "docs/recipes.md" if doc == "README.md" else "recipes.md"
    assert f"]({target})" in (ROOT / doc).read_text("utf-8")
