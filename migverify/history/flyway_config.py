"""Flyway's configuration of a project, read the way Flyway and Spring Boot read it: the
locations scanned, the schemas created, the default schema, the placeholders.

The files, later ones winning (the Flyway CLI's order, then Spring Boot's, whose application
runs the migrations at start): `conf/flyway.conf`, `flyway.conf`, then Spring Boot's
`src/main/resources/application.yml` (`.yaml`) and `application.properties`. Keys are `flyway.*`
(flyway.conf, Spring Boot 1) or `spring.flyway.*`, in any of Spring's relaxed spellings
(`default-schema`, `defaultSchema`). `${…}` in a value refers to another key (`${key:default}`);
environment variables, profiles (`application-<profile>.*`, profile documents of a YAML file)
and command-line options are not read. The files themselves are read by config_files
(application.yml without PyYAML)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history.config_files import Entry, read_properties, read_yaml
from migverify.sqlload import line_of

RESOURCES = Path("src/main/resources")
CONF_FILES = (Path("conf/flyway.conf"), Path("flyway.conf"))
SPRING_FILES = tuple(
    RESOURCES / name for name in ("application.yml", "application.yaml", "application.properties")
)
DEFAULT_LOCATION = "classpath:db/migration"
CLI_LOCATION = "filesystem:sql"  # the Flyway CLI's default, beside flyway.conf
_REFERENCE = re.compile(r"\$\{([^}:]*)(?::([^}]*))?\}")
_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")


@dataclass(frozen=True)
class FlywayConfig:
    """What Flyway does around the migrations of one project (or of a bare location)."""

    locations: tuple[Path, ...]
    root: Path | None = None  # the project root, when the configuration comes from one
    files: tuple[Path, ...] = ()  # the configuration files read
    schemas: tuple[str, ...] = ()
    default_schema: str | None = None  # as configured (Flyway then takes schemas[0])
    create_schemas: bool = True
    table: str = "flyway_schema_history"
    placeholders: Mapping[str, str] = field(default_factory=dict)
    prefix: str = "${"
    suffix: str = "}"
    separator: str = ":"
    replacement: bool = True
    user: str | None = None
    database: str | None = None
    origin: Mapping[str, str] = field(default_factory=dict)  # setting -> path:line

    @property
    def schema(self) -> str | None:
        """The default schema Flyway runs the migrations in (None: the connection's own)."""
        return self.default_schema or (self.schemas[0] if self.schemas else None)

    def schemas_to_create(self) -> tuple[str, ...]:
        """The schemas `flyway migrate` creates when missing: the default one first."""
        if not self.create_schemas or self.schema is None:
            return ()
        return (self.schema, *(s for s in self.schemas if s != self.schema))


def read_config(directory: Path) -> FlywayConfig:
    """The configuration Flyway runs DIRECTORY's migrations with: DIRECTORY is a project root
    (its configured or default locations), a location inside a project whose configuration
    names it (that project's settings, this location), or a bare location (defaults)."""
    if is_project(directory):
        return _project(directory)
    for root in directory.resolve().parents:
        if is_project(root):
            config = _project(root)
            if any(_inside(directory, location) for location in config.locations):
                return replace(config, locations=(directory,))
    return FlywayConfig(locations=(directory,))


def is_project(directory: Path) -> bool:
    """A project root: Flyway or Spring Boot configuration, or Maven's resources directory."""
    return (directory / RESOURCES).is_dir() or any(
        (directory / name).is_file() for name in (*CONF_FILES, *SPRING_FILES)
    )


def _inside(directory: Path, location: Path) -> bool:
    return directory.resolve().is_relative_to(location.resolve())


def _project(root: Path) -> FlywayConfig:
    files = [root / name for name in (*CONF_FILES, *SPRING_FILES) if (root / name).is_file()]
    entries: dict[str, Entry] = {}
    for path in files:
        entries |= read_yaml(path) if path.suffix in (".yml", ".yaml") else read_properties(path)
    settings = _Settings(_indexed_lists(entries))
    has_conf = any(path.name == "flyway.conf" for path in files)
    default = CLI_LOCATION if has_conf and (root / "sql").is_dir() else DEFAULT_LOCATION
    placeholders = {name: settings.text(key) for name, key in settings.placeholders().items()}
    return FlywayConfig(
        root=root,
        files=tuple(files),
        locations=tuple(
            place
            for location in settings.items("locations", (default,))
            for place in _location(root, location, settings.where("locations"))
        ),
        schemas=settings.items("schemas", ()),
        default_schema=settings.get("defaultschema"),
        create_schemas=settings.flag("createschemas", True),
        table=settings.get("table") or "flyway_schema_history",
        placeholders=placeholders,
        prefix=settings.get("placeholderprefix") or "${",
        suffix=settings.get("placeholdersuffix") or "}",
        separator=settings.get("placeholderseparator") or ":",
        replacement=settings.flag("placeholderreplacement", True),
        user=settings.get("user") or settings.get("username", prefixes=("spring.datasource.",)),
        database=_database(
            settings.get("url") or settings.get("url", prefixes=("spring.datasource.",))
        ),
        origin=settings.origin,
    )


def _indexed_lists(entries: dict[str, Entry]) -> dict[str, Entry]:
    """ENTRIES with Spring's indexed keys (`schemas[0]=a`, `schemas[1]=b`) as one list."""
    lists: dict[str, list[tuple[int, Entry]]] = {}
    for key, entry in entries.items():
        match = _INDEXED.match(key)
        if match is not None:
            lists.setdefault(match.group(1), []).append((int(match.group(2)), entry))
    merged = {key: entry for key, entry in entries.items() if not _INDEXED.match(key)}
    for key, items in lists.items():
        values = tuple(v for _, e in sorted(items, key=lambda i: i[0]) for v in _values(e))
        problem = next((e.problem for _, e in items if e.problem), None)
        merged[key] = Entry(values, min(items, key=lambda i: i[0])[1].where, problem)
    return merged


def _values(entry: Entry) -> tuple[str, ...]:
    return (entry.value,) if isinstance(entry.value, str) else entry.value


def _location(root: Path, location: str, where: str | None) -> list[Path]:
    """The directories one Flyway location names (`classpath:` is src/main/resources)."""
    location = location.strip().replace("{vendor}", "postgresql")
    kind, colon, path = location.partition(":")
    if not colon:
        kind, path = "classpath", location
    if kind == "classpath":
        base = root / RESOURCES / path.lstrip("/")
    elif kind == "filesystem":
        base = root / path
    else:
        raise InputError(
            f"{where or root}: Flyway location {location!r}: only classpath: and filesystem: "
            "locations can be read (name the directory in [legacy] migrations)"
        )
    if any(c in str(base) for c in "*?"):
        anchor = Path(base.anchor) if base.is_absolute() else Path()
        return sorted(p for p in anchor.glob(str(base.relative_to(anchor))) if p.is_dir())
    return [base]


def _database(url: str | None) -> str | None:
    """The database a JDBC URL names (`jdbc:postgresql://host:5432/ledger?ssl=true`)."""
    if not url:
        return None
    match = re.match(r"^jdbc:postgresql:(?://[^/]*/)?([^?;/]+)", url)
    return match.group(1) if match else None


class _Settings:
    """Flyway settings out of the entries of the configuration files, by relaxed name."""

    PREFIXES = ("spring.flyway.", "flyway.")

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries
        self.origin: dict[str, str] = {}

    def _find(self, name: str, prefixes: tuple[str, ...]) -> tuple[str, Entry] | None:
        found = None
        for key, entry in self.entries.items():  # in file order: the last one wins
            for prefix in prefixes:
                if key.lower().startswith(prefix) and _relaxed(key[len(prefix) :]) == name:
                    found = (key, entry)
        return found

    def entry(self, name: str, prefixes: tuple[str, ...] = PREFIXES) -> Entry | None:
        found = self._find(name, prefixes)
        if found is None:
            return None
        key, entry = found
        if entry.problem is not None:
            raise InputError(f"{entry.where}: {key}: {entry.problem}")
        self.origin[name] = entry.where
        return entry

    def where(self, name: str) -> str | None:
        entry = self.entry(name)
        return entry.where if entry else None

    def get(self, name: str, prefixes: tuple[str, ...] = PREFIXES) -> str | None:
        entry = self.entry(name, prefixes)
        if entry is None:
            return None
        if isinstance(entry.value, tuple):
            raise InputError(f"{entry.where}: {name} must be one value, not a list")
        return self._resolve(entry.value, entry)

    def text(self, key: str) -> str:
        entry = self.entries[key]
        if entry.problem is not None:
            raise InputError(f"{entry.where}: {key}: {entry.problem}")
        value = entry.value if isinstance(entry.value, str) else ",".join(entry.value)
        return self._resolve(value, entry)

    def items(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        entry = self.entry(name)
        if entry is None:
            return default
        values = entry.value.split(",") if isinstance(entry.value, str) else entry.value
        return tuple(v for v in (self._resolve(x, entry).strip() for x in values) if v)

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if value.strip().lower() not in ("true", "false"):
            raise InputError(f"{self.where(name)}: {name} must be true or false, not {value!r}")
        return value.strip().lower() == "true"

    def placeholders(self) -> dict[str, str]:
        """Placeholder name -> the key giving its value (`placeholders.[a.b]` keeps the dot)."""
        found = {}
        for key in self.entries:
            for prefix in self.PREFIXES:
                head = key[: len(prefix)].lower()
                rest = key[len(prefix) :]
                if head == prefix and rest.lower().startswith("placeholders."):
                    name = rest[len("placeholders.") :]
                    found[name[1:-1] if name.startswith("[") and name.endswith("]") else name] = key
        return found

    def _resolve(self, value: str, entry: Entry, depth: int = 0) -> str:
        """VALUE with `${key}` / `${key:default}` replaced by other settings (as Spring does)."""

        def one(match: re.Match[str]) -> str:
            other = self.entries.get(match.group(1))
            if other is not None and isinstance(other.value, str) and depth < 10:
                return self._resolve(other.value, other, depth + 1)
            if match.group(2) is not None:
                return match.group(2)
            raise InputError(
                f"{entry.where}: {match.group(0)} has no value in the configuration files "
                "(migverify reads no environment variables): write the value there"
            )

        return _REFERENCE.sub(one, value)


def _relaxed(name: str) -> str:
    """Spring's relaxed spelling: `default-schema`, `defaultSchema`, `default_schema` alike."""
    return re.sub(r"[-_]", "", name).lower()


def placeholder_error(
    path: Path, text: str, offset: int, name: str, config: FlywayConfig
) -> SQLFileError:
    """The one line for a placeholder with no value, as Flyway refuses it: the file and line,
    and where a value may come from."""
    line = line_of(text, offset)
    if config.suffix not in text[offset + len(config.prefix) :]:
        return SQLFileError(
            str(path),
            line,
            f"Flyway placeholder {config.prefix}… is not closed by {config.suffix} "
            "(Flyway takes the rest of the file as its name and refuses it)",
        )
    shown = f"{config.prefix}{name}{config.suffix}"
    builtin = f"flyway{config.separator}"
    if name.startswith(builtin):
        where = {
            "user": "flyway.user (flyway.conf), or spring.flyway.user or "
            "spring.datasource.username (application.properties)",
            "database": "flyway.url (flyway.conf), or spring.flyway.url or "
            "spring.datasource.url (application.properties)",
        }.get(name[len(builtin) :])
        if where is None:
            why = "not one of Flyway's built-in placeholders (Flyway refuses it too)"
        else:
            why = f"Flyway takes it from its connection; migverify from {where}"
    else:
        why = (
            f"no value (Flyway refuses it too): give it as flyway.placeholders.{name} in the "
            f"project's flyway.conf or spring.flyway.placeholders.{name} in its "
            f"{RESOURCES.as_posix()}/application.properties (read when [legacy] migrations "
            "names the project or a location in it)"
        )
    read = f" (read: {', '.join(str(p) for p in config.files)})" if config.files else ""
    return SQLFileError(
        str(path),
        line,
        f"Flyway placeholder {shown}: {why}{read}, or write the value into the file",
    )
