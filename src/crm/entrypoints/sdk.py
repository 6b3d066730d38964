"""Client SDKs generated from the OpenAPI document (`crm sdk ...`).

Kotlin: openapi-generator-cli (the PyPI package bundles the generator jar; it needs Java 17+).
The document is first checked with `validate --recommend`, then generated into a scratch
directory next to the output, and only a clean run replaces the previous SDK. Any warning or
error the generator prints is a failure, except the notices in `ALLOWED_WARNINGS`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR = "openapi-generator-cli"
KOTLIN_PACKAGE = "dev.crm.client"
KOTLIN_PROPERTIES = {
    "packageName": KOTLIN_PACKAGE,
    "groupId": "dev.crm",
    "artifactId": "crm-client",
    # Moshi drops null properties, so a PATCH body sends only the fields that were set
    # (kotlinx_serialization's generated `encodeDefaults = true` would send every field as null
    # and clear it).
    "serializationLibrary": "moshi",
    # An enum value added by a newer server decodes to `unknown_default_open_api`, not a crash.
    "enumUnknownDefaultCase": "true",
}
# A union of JSON primitives has no Kotlin class: the generator would emit an empty one.
KOTLIN_SCHEMA_MAPPINGS = {"CustomFieldValue": "kotlin.Any"}
# Kept in the output directory across regenerations and never written by the generator.
KEPT = frozenset({"README.md"})
MARKER = Path(".openapi-generator") / "FILES"
TIMEOUT_SECONDS = 300

# The warnings the generator may print about our document without failing the build.
ALLOWED_WARNINGS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^OpenAPI 3\.1 support is still in beta\b"),
)
# `[main] WARN  o.o.codegen.DefaultCodegen - message`
_LOG_LINE = re.compile(r"^\[[^\]]*\]\s+(?P<level>[A-Z]+)\s+\S+\s+-\s?(?P<message>.*)$")
_QUIET_LEVELS = frozenset({"TRACE", "DEBUG", "INFO"})
# Output lines that are neither log records nor problems.
_BENIGN_LINES: tuple[re.Pattern[str], ...] = (
    re.compile(r"^#"),  # the generator's closing banner
    re.compile(r"^Picked up (JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS):"),  # the JVM
    re.compile(r"^Validating spec \(.*\)$"),  # `validate`
    re.compile(r"^No validation issues detected\.$"),  # `validate`
)


class SdkGenerationError(RuntimeError):
    """The generator failed, could not run, or warned about the document."""

    def __init__(self, message: str, lines: Sequence[str] = ()) -> None:
        self.lines = tuple(lines)
        shown = "\n".join(f"  {line}" for line in self.lines[:40])
        more = len(self.lines) - 40
        if more > 0:
            shown += f"\n  ... and {more} more lines"
        super().__init__(f"{message}\n{shown}" if shown else message)


@dataclass(frozen=True)
class Classified:
    """A generator run's output, sorted: what fails the build and what is allowed."""

    problems: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedSdk:
    out: Path
    files: int
    allowed_warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        notes = "".join(f"\n  allowed: {line}" for line in self.allowed_warnings)
        return f"{self.files} files in {self.out}{notes}"


def classify(output: str) -> Classified:
    """Sort the generator's output lines: WARN/ERROR records and unknown lines are problems.

    INFO/DEBUG/TRACE records, the banner and blank lines are ignored; a WARN record is allowed
    only when its message matches `ALLOWED_WARNINGS`. Anything else (ERROR records, stack
    traces, `validate`'s "Warnings:"/"Errors:" lists) is a problem.
    """
    problems: list[str] = []
    allowed: list[str] = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        record = _LOG_LINE.match(line)
        if record is None:
            if not any(p.match(line) for p in _BENIGN_LINES):
                problems.append(line)
            continue
        level, message = record["level"], record["message"]
        if level in _QUIET_LEVELS:
            continue
        if level == "WARN" and any(p.match(message) for p in ALLOWED_WARNINGS):
            allowed.append(line)
        else:
            problems.append(line)
    return Classified(tuple(problems), tuple(allowed))


def generate_kotlin(spec: Path, out: Path, *, quiet: bool = False) -> GeneratedSdk:
    """Generate the Kotlin client for `spec` into `out` (replacing its generated content)."""
    if not spec.is_file():
        raise SdkGenerationError(f"no OpenAPI document at {spec} (write it with `crm openapi`)")
    _check_replaceable(out, spec)
    command = _generator_command()
    allowed: list[str] = []
    problems: list[str] = []

    found = _checked(_run([*command, "validate", "--recommend", "-i", str(spec)]), spec)
    allowed += found.allowed
    problems += found.problems

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (scratch / ".openapi-generator-ignore").write_text(
            "# crm sdk kotlin: README.md is ours, not generated\n" + "".join(f"{k}\n" for k in KEPT)
        )
        found = _checked(_run([*command, "generate", *kotlin_arguments(spec, scratch)]), spec)
        allowed += found.allowed
        problems += found.problems
        if problems:
            raise SdkGenerationError(
                f"openapi-generator warned about {spec}; fix the document (the only allowed "
                "warning is the OpenAPI 3.1 beta notice)",
                problems,
            )
        files = sum(1 for p in scratch.rglob("*") if p.is_file())
        _replace(out, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = GeneratedSdk(out, files, tuple(allowed))
    if not quiet:
        print(result.summary())
    return result


def _checked(done: subprocess.CompletedProcess[str], spec: Path) -> Classified:
    """The classified output of one generator run; a non-zero exit is an error at once."""
    found = classify(done.stdout)
    if done.returncode != 0:
        raise SdkGenerationError(
            f"openapi-generator failed on {spec} (exit {done.returncode})",
            found.problems or done.stdout.splitlines(),
        )
    return found


def kotlin_arguments(spec: Path, out: Path) -> list[str]:
    """The `generate` arguments after the subcommand (spec validation stays on)."""
    properties = dict(KOTLIN_PROPERTIES)
    version = _document_version(spec)
    if version:
        properties["artifactVersion"] = version
    joined = ",".join(f"{k}={v}" for k, v in properties.items())
    mapped = ",".join(f"{k}={v}" for k, v in KOTLIN_SCHEMA_MAPPINGS.items())
    return [
        *("-g", "kotlin", "-i", str(spec), "-o", str(out)),
        f"--additional-properties={joined}",
        f"--type-mappings={mapped}",
        f"--schema-mappings={mapped}",
    ]


def _document_version(spec: Path) -> str | None:
    try:
        version = json.loads(spec.read_text())["info"]["version"]
    except (ValueError, KeyError, TypeError):
        return None  # the generator reports a broken document itself
    text = str(version)
    return text if re.fullmatch(r"[\w.+-]+", text) else None


def _generator_command() -> list[str]:
    if shutil.which("java") is None:
        raise SdkGenerationError(
            "java is not installed: the Kotlin SDK needs Java 17+ (e.g. `apt-get install "
            "openjdk-17-jre-headless`) on PATH"
        )
    beside = Path(sys.executable).parent / GENERATOR
    executable = str(beside) if beside.is_file() else shutil.which(GENERATOR)
    if executable is None:
        raise SdkGenerationError(
            f"{GENERATOR} is not installed: run `uv sync` (it is a dev dependency)"
        )
    return [executable]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(  # noqa: S603 - our own fixed command line
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise SdkGenerationError(f"{GENERATOR} took more than {TIMEOUT_SECONDS}s") from e
    if "UnsupportedClassVersionError" in done.stdout:
        raise SdkGenerationError(
            "the java on PATH is too old: openapi-generator needs Java 17+",
            done.stdout.splitlines()[:5],
        )
    return done


def _check_replaceable(out: Path, spec: Path) -> None:
    """Refuse to wipe a directory that is not a previous generation (e.g. `--out .`)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SdkGenerationError(f"{out} is not a directory")
    if not out.exists():
        return
    resolved = out.resolve()
    if resolved in spec.resolve().parents:
        raise SdkGenerationError(f"refusing to generate into {out}: it contains {spec}")
    entries = {p.name for p in out.iterdir()}
    if entries - KEPT and not (out / MARKER).is_file():
        raise SdkGenerationError(
            f"refusing to replace {out}: it is not empty and holds no previous generation "
            f"({MARKER})"
        )


def _replace(out: Path, scratch: Path) -> None:
    """Swap `out`'s generated content for `scratch`'s; entries named in KEPT stay."""
    out.mkdir(exist_ok=True)
    for old in out.iterdir():
        if old.name in KEPT:
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    for new in scratch.iterdir():
        if new.name not in KEPT:
            new.rename(out / new.name)
