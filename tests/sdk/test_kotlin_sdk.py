"""The Kotlin SDK: openapi-generator builds it from the app's document without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from crm.entrypoints import sdk
from crm.entrypoints.cli import openapi_text

# The suite never skips: a machine without Java fails here, saying what to install.
NO_JAVA = (
    "java is not on PATH: the test suite needs Java 17+ to generate the Kotlin SDK "
    "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)"
)
SOURCES = Path("src/main/kotlin/dev/crm/client")
BETA_NOTICE = (
    "[main] WARN  o.o.codegen.DefaultCodegen - OpenAPI 3.1 support is still in beta. To report "
    "an issue related to 3.1 spec, please kindly open an issue in the Github repo: "
    "https://github.com/openAPITools/openapi-generator."
)
UNKNOWN_TYPE = (
    "[main] WARN  o.o.codegen.DefaultCodegen - Unknown type found in the schema: foo. To map "
    "it, please use the schema mapping option (e.g. --schema-mappings in CLI)"
)
HARMLESS = """\
[main] INFO  o.o.codegen.DefaultGenerator - Generator 'kotlin' is considered stable.
[main] INFO  o.o.codegen.TemplateManager - writing file /x/infrastructure/Errors.kt
[main] INFO  o.o.codegen.InlineModelResolver - Inline schema created as Foo_value. WARN
[main] DEBUG o.o.codegen.DefaultCodegen - error handling is fine
Validating spec (openapi.json)
No validation issues detected.

################################################################################
# Thanks for using OpenAPI Generator.                                          #
################################################################################
"""


def require_java() -> None:
    """Fails the test (never skips) when java is missing; generation checks its version."""
    if shutil.which("java") is None:
        pytest.fail(NO_JAVA)


def test_a_machine_without_java_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"Java 17\+ .*openjdk-17"):
        require_java()


@pytest.fixture(scope="module")
def kotlin(tmp_path_factory: pytest.TempPathFactory) -> tuple[sdk.GeneratedSdk, float]:
    require_java()
    root = tmp_path_factory.mktemp("sdk")
    spec = root / "openapi.json"
    spec.write_text(openapi_text())
    out = root / "kotlin"
    # A previous generation: its files go, the committed README stays.
    (out / ".openapi-generator").mkdir(parents=True)
    (out / ".openapi-generator" / "FILES").write_text("stale.kt\n")
    (out / "stale.kt").write_text("class Stale\n")
    (out / "README.md").write_text("ours\n")
    started = time.monotonic()
    generated = sdk.generate_kotlin(spec, out, quiet=True)
    return generated, time.monotonic() - started


def test_generates_without_unexpected_warnings(kotlin: tuple[sdk.GeneratedSdk, float]) -> None:
    generated, seconds = kotlin
    assert generated.files > 30
    assert all("OpenAPI 3.1 support is still in beta" in w for w in generated.allowed_warnings)
    assert seconds < 60, f"generation took {seconds:.1f}s"


def test_replaces_the_previous_generation_but_keeps_the_readme(
    kotlin: tuple[sdk.GeneratedSdk, float],
) -> None:
    out = kotlin[0].out
    assert (out / "README.md").read_text() == "ours\n"
    assert not (out / "stale.kt").exists()
    assert "stale.kt" not in (out / ".openapi-generator" / "FILES").read_text()
    assert (out / "build.gradle").is_file()
    assert not list(out.parent.glob(".kotlin.*")), "the scratch directory was left behind"


def test_contacts_api_has_every_operation(kotlin: tuple[sdk.GeneratedSdk, float]) -> None:
    api = (kotlin[0].out / SOURCES / "apis" / "ContactsApi.kt").read_text()
    for operation in ("createContact", "getContact", "listContacts", "updateContact"):
        assert re.search(rf"\bfun {operation}\(", api), operation
    assert re.search(r"\bfun deleteContact\(", api)


def test_models_are_generated(kotlin: tuple[sdk.GeneratedSdk, float]) -> None:
    models = kotlin[0].out / SOURCES / "models"
    for name in ("Contact", "ContactCreate", "ContactUpdate", "ContactPage", "Problem"):
        source = (models / f"{name}.kt").read_text()
        assert re.search(rf"\bdata class {name}\b", source), name
    assert "unknown_default_open_api" in (models / "LifecycleStage.kt").read_text()


def test_no_model_is_an_empty_class(kotlin: tuple[sdk.GeneratedSdk, float]) -> None:
    models = kotlin[0].out / SOURCES / "models"
    empty = [
        p.stem for p in models.glob("*.kt") if re.search(r"\bclass \w+\s*\(\s*\)", p.read_text())
    ]
    assert empty == []
    contact = (models / "Contact.kt").read_text()
    assert "customFields: kotlin.collections.Map<kotlin.String, kotlin.Any>" in contact


# The classifier, without Java: it must fail on anything but the known beta notice.


def test_classifier_allows_only_the_beta_notice() -> None:
    found = sdk.classify(HARMLESS + BETA_NOTICE + "\n")
    assert found.problems == ()
    assert found.allowed == (BETA_NOTICE,)


@pytest.mark.parametrize(
    "line",
    [
        UNKNOWN_TYPE,
        "[main] WARN  o.o.codegen.DefaultCodegen - Empty operationId found for path: get /x.",
        "[main] WARN  o.o.codegen.X - Deprecated. OpenAPI 3.1 support is still in beta",
        "[main] ERROR i.s.v.p.reference.ReferenceVisitor - Error resolving schema #/x/Nope",
        'Exception in thread "main" org.openapitools.codegen.SpecValidationException: ...',
        "\tat io.swagger.v3.parser.reference.ReferenceVisitor.visitSchema(X.java:154)",
        "Warnings: ",
        "\t- Unused model: Unused",
        "[info] Spec has 1 recommendation(s).",
    ],
)
def test_classifier_fails_on_any_other_warning_or_error(line: str) -> None:
    found = sdk.classify(HARMLESS + BETA_NOTICE + "\n" + line + "\n")
    assert found.problems == (line.rstrip(),)


def test_a_warning_fails_generation_and_keeps_the_previous_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = iter([HARMLESS, HARMLESS + BETA_NOTICE + "\n" + UNKNOWN_TYPE + "\n"])

    def fake_run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 0, stdout=next(outputs))

    monkeypatch.setattr(sdk, "_generator_command", lambda: ["openapi-generator-cli"])
    monkeypatch.setattr(sdk, "_run", fake_run)
    spec = tmp_path / "openapi.json"
    spec.write_text('{"openapi": "3.1.0", "info": {"title": "x", "version": "1"}}')
    out = tmp_path / "kotlin"
    (out / ".openapi-generator").mkdir(parents=True)
    (out / ".openapi-generator" / "FILES").write_text("old.kt\n")
    (out / "old.kt").write_text("class Old\n")
    with pytest.raises(sdk.SdkGenerationError, match="Unknown type found") as raised:
        sdk.generate_kotlin(spec, out, quiet=True)
    assert raised.value.lines == (UNKNOWN_TYPE,)
    assert (out / "old.kt").read_text() == "class Old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kotlin", "openapi.json"]


def test_missing_java_says_to_install_java_17(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    spec = tmp_path / "openapi.json"
    spec.write_text("{}")
    with pytest.raises(sdk.SdkGenerationError, match="Java 17"):
        sdk.generate_kotlin(spec, tmp_path / "kotlin", quiet=True)


@pytest.mark.parametrize("where", ["spec's directory", "unrelated directory"])
def test_refuses_to_wipe_a_directory_it_did_not_generate(tmp_path: Path, where: str) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text("{}")
    out = tmp_path
    if where == "unrelated directory":
        out = tmp_path / "src"
        out.mkdir()
        (out / "main.py").write_text("")
    with pytest.raises(sdk.SdkGenerationError, match="refusing"):
        sdk.generate_kotlin(spec, out, quiet=True)
    assert spec.exists()
