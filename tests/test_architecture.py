"""The architecture holds: the import contracts of pyproject.toml are there as written and kept,
product modules stay under the size at which STYLE.md splits them, and code comments point at
documents that exist in the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_APPS = ("accounts", "explorer", "labeling", "reviewapp", "traces")
MAX_MODULE_LINES = 800

# The contracts of [tool.importlinter], whole: removing one, or weakening it (a layer or a
# forbidden module less, ignored imports, indirect imports allowed), fails a test.
EXPECTED_CONTRACTS = {
    "layers": {
        "type": "layers",
        "layers": ["reviewapp", "explorer", "labeling", "traces", "accounts"],
    },
    "project-and-bench": {
        "type": "forbidden",
        "source_modules": ["explorer", "labeling", "traces", "accounts"],
        "forbidden_modules": ["reviewapp", "bench"],
    },
    "product-not-bench": {
        "type": "forbidden",
        "source_modules": ["reviewapp"],
        "forbidden_modules": ["bench"],
    },
    "labeling-core": {
        "type": "layers",
        "containers": ["labeling"],
        "layers": [
            "review | console | campaign | api",
            "queue | session_items",
            "services",
            "forms",
            "models",
            "inputs",
        ],
    },
}


def importlinter_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]


def test_import_linter_analyses_every_package():
    config = importlinter_config()
    assert set(config["root_packages"]) == {*PRODUCT_APPS, "bench"}
    assert config.get("include_external_packages", False) is False
    # Only imports under `if TYPE_CHECKING:` are left out; every import that runs counts.
    assert config["exclude_type_checking_imports"] is True
    assert set(config) <= {
        "root_packages",
        "include_external_packages",
        "exclude_type_checking_imports",
        "contracts",
    }


def test_import_contracts_are_there_as_written():
    contracts = {contract["id"]: contract for contract in importlinter_config()["contracts"]}
    assert set(contracts) == set(EXPECTED_CONTRACTS)
    for contract_id, expected in EXPECTED_CONTRACTS.items():
        contract = {key: value for key, value in contracts[contract_id].items() if key != "name"}
        assert contract == {"id": contract_id, **expected}, contract_id
        assert contracts[contract_id]["name"].strip()


def test_the_layers_name_every_product_app():
    contracts = {contract["id"]: contract for contract in importlinter_config()["contracts"]}
    assert set(contracts["layers"]["layers"]) == set(PRODUCT_APPS)


@pytest.mark.parametrize(
    "contract_id", [contract["id"] for contract in importlinter_config()["contracts"]]
)
def test_import_contract_is_kept(contract_id, monkeypatch):
    """`lint-imports --no-cache --contract <id>`, in process (without the command's logging
    set-up, which would disable every other logger). Its report, with the broken imports when
    there are any, is under "Captured stdout" when the test fails."""
    from importlinter import configuration
    from importlinter.application import use_cases

    configuration.configure()
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    kept = use_cases.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"),
        limit_to_contracts=(contract_id,),
        cache_dir=None,
        is_debug_mode=True,
    )
    assert kept is use_cases.SUCCESS, f"import contract {contract_id!r} is broken"


def product_modules(*, include_migrations: bool = True) -> list[Path]:
    modules = []
    for app in PRODUCT_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if not include_migrations and "migrations" in relative.parts:
                continue
            modules.append(path)
    return modules


def oversized_modules() -> dict[str, int]:
    sizes = {}
    for path in product_modules(include_migrations=False):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("traces/demo/"):
            continue  # demo content: data written as code
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            sizes[relative] = lines
    return sizes


def test_no_product_module_is_over_800_lines():
    assert oversized_modules() == {}


def test_product_code_cites_no_design_md():
    """References resolve inside the repository: the architecture is docs/architecture.md."""
    citing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in product_modules()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\bDESIGN\.md\b", line)
    ]
    assert citing == []
    assert (ROOT / "docs" / "architecture.md").is_file()
