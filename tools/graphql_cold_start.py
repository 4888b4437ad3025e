"""Measure what each GraphQL library adds to a Lambda cold start: import plus building SoundCanvas' schema.

    python tools/graphql_cold_start.py [--runs 7]

Each library builds the same schema (functions/core/graphql_api/schema.graphql): graphql-core and Ariadne from the
SDL, Strawberry from code-first classes generated from that SDL (Strawberry has no SDL loader). Every run is a
fresh interpreter, as a cold start is; the time is measured inside it (the interpreter's own start is reported
apart, it is the same for all). A library that is not installed is reported as such. Results: docs/clients.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[1] / "functions" / "core" / "graphql_api" / "schema.graphql"

TIMED = """
import json, sys, time
t0 = time.perf_counter()
{body}
t1 = time.perf_counter()
print(json.dumps({{"ms": (t1 - t0) * 1000}}))
"""

BODIES = {
    "graphql-core": (
        "from graphql import build_schema, parse, validate\n"
        "schema = build_schema(open({schema!r}).read())\n"
        "assert not validate(schema, parse('{{ generationStatus(jobId: \"x\") {{ status }} }}'))\n"
    ),
    "ariadne": (
        "from ariadne import make_executable_schema, QueryType, MutationType, ScalarType\n"
        "schema = make_executable_schema(open({schema!r}).read(), QueryType(), MutationType(), ScalarType('JSON'))\n"
    ),
    "strawberry": (
        "sys.path.insert(0, {folder!r})\n"
        "import strawberry_schema\n"
        "schema = strawberry_schema.schema\n"
    ),
}


def strawberry_module(sdl: str) -> str:
    """Code-first Strawberry classes equivalent to the SDL (types, inputs, the enum, resolvers with arguments)."""
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLList,
        GraphQLNonNull,
        GraphQLObjectType,
        build_schema,
    )

    schema = build_schema(sdl)
    scalars = {"String": "str", "Int": "int", "Float": "float", "Boolean": "bool", "ID": "strawberry.ID",
               "JSON": "JSON"}

    def annotation(gql_type: object) -> str:
        if isinstance(gql_type, GraphQLNonNull):
            return annotation(gql_type.of_type).removeprefix("Optional[").removesuffix("]")
        if isinstance(gql_type, GraphQLList):
            return f"Optional[List[{annotation(gql_type.of_type)}]]"
        name = gql_type.name  # type: ignore[attr-defined]
        return f"Optional[{scalars.get(name, repr(name))}]"

    lines = ["import strawberry", "from enum import Enum", "from typing import List, Optional",
             "from strawberry.scalars import JSON", ""]
    for name, gql_type in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(gql_type, GraphQLEnumType):
            lines += ["@strawberry.enum", f"class {name}(Enum):"]
            lines += [f"    {value} = {value!r}" for value in gql_type.values]
        elif isinstance(gql_type, GraphQLInputObjectType):
            lines += ["@strawberry.input", f"class {name}:"]
            lines += [f"    {field}: {annotation(f.type)} = None" for field, f in gql_type.fields.items()]
        elif isinstance(gql_type, GraphQLObjectType):
            lines += ["@strawberry.type", f"class {name}:"]
            for field, f in gql_type.fields.items():
                if f.args:
                    args = ", ".join(f"{arg}: {annotation(a.type)}" for arg, a in f.args.items())
                    lines += ["    @strawberry.field", f"    def {field}(self, {args}) -> {annotation(f.type)}:",
                              "        return None"]
                else:
                    lines.append(f"    {field}: {annotation(f.type)}")
        lines.append("")
    lines.append("schema = strawberry.Schema(query=Query, mutation=Mutation)")
    return "\n".join(lines) + "\n"


def measure(python: str, runs: int, folder: str) -> list[dict[str, object]]:
    """Each library `runs` times, interleaved (one run of each in turn), so a busy machine weighs on all alike."""
    times: dict[str, list[float]] = {library: [] for library in BODIES}
    errors: dict[str, str] = {}
    for _ in range(runs):
        for library, body in BODIES.items():
            if library in errors:
                continue
            code = TIMED.format(body=body.format(schema=str(SCHEMA), folder=folder))
            done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                errors[library] = done.stderr.strip().splitlines()[-1]
                continue
            times[library].append(json.loads(done.stdout.strip().splitlines()[-1])["ms"])
    results: list[dict[str, object]] = []
    for library, measured in times.items():
        if library in errors:
            results.append({"library": library, "error": errors[library]})
            continue
        distribution = {"graphql-core": "graphql-core", "ariadne": "ariadne", "strawberry": "strawberry-graphql"}[library]
        version = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
                                 capture_output=True, text=True, check=False).stdout.strip()
        results.append({"library": library, "version": version, "median_ms": round(statistics.median(measured), 1),
                        "min_ms": round(min(measured), 1), "max_ms": round(max(measured), 1), "runs": runs})
    return results


def interpreter_start(python: str, runs: int) -> float:
    """Median wall time of `python -c pass`: what every cold start pays before any import of ours."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose packages are measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with contextlib.suppress(ImportError):  # graphql-core missing here: every library will report it
            Path(folder, "strawberry_schema.py").write_text(strawberry_module(SCHEMA.read_text()))
        sys.stdout.write(json.dumps({"library": "(interpreter start, not included above)",
                                     "median_ms": round(interpreter_start(args.python, args.runs), 1)}) + "\n")
        for result in measure(args.python, args.runs, folder):
            sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
