#!/usr/bin/env python3
"""Differential fuzzing of Tide's mapping against port-ocean 0.56.2 (jq 1.8.2) itself.

Generates resource mappings from a grammar of what real Ocean mappings contain, and records that
stress them; maps every record with Ocean's own entity processor (JQEntityProcessor /
JQEntityProcessorSync, called in-process per item instead of through its fork pool, and
handle_items_to_parse for itemsToParse), and writes the cases with Ocean's results as JSON.
The Swift suite (Tests/TideOceanFuzzTests/MappingFuzzTests.swift) maps the same records with Tide and
compares entities, misconfigured fields, skipped, filtered and failed items.

  scripts/fuzz-mappings.py fixture            # rewrites the committed fixed-seed corpus
  scripts/fuzz-mappings.py campaign [--seed N] [--pairs 100000]
                                              # random corpus, compared by the Swift suite; every
                                              # difference not known is minimised and appended to
                                              # Tests/TideOceanFuzzTests/Fixtures/ocean-fuzz-regressions.json

Needs port-ocean 0.56.2 (Python >= 3.12): scripts/fuzz-setup.sh makes .build-venv with it.
"""
import argparse
import asyncio
import copy
import json
import os
import pathlib
import random
import subprocess
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/TideOceanFuzzTests/Fixtures"
CORPUS = FIXTURES / "ocean-fuzz.json"
REGRESSIONS = FIXTURES / "ocean-fuzz-regressions.json"
FIXTURE_SEED = 13
FIXTURE_MAPPINGS = 45  # ~30 s of CPU in a debug `swift test`; campaigns cover the rest
RECORDS_PER_MAPPING = 8

# ---------------------------------------------------------------------------------------------
# Records

ODD_KEYS = ["e1", "E5", "a-b", "with space", "ü", "", "1", "$x", "null", "key.dot"]
WORDS = ["alpha", "Beta", "gamma-ray", "dé jà", "日本", "😀 ok", "a,b,c", "  padded  ", "", "x_y", "1000", "ISSUE-12"]
DATES = ["2024-01-05T10:20:30Z", "2024-01-05T10:20:30.000+0000", "2024-01-05", "2015-03-05T23:51:47Z",
         "not a date", "", "1999-12-31T23:59:59Z"]
NUMBER_STRINGS = ["1000", "1e3", "-1.5", " 12", "12 ", "", "nan", "0x10", "+1", ".5", "00012", "3", "1.0", "abc"]


def number(rng):
    # No numbers that jq 1.6 cannot write as Python does whatever their value (1e-7, 10**17, 2**53 + 1:
    # exponents, beyond 2^53): their difference is the documented number-literals one, and hidden
    # under `length` or `@uri` it cannot be told from others. Integral floats (1.0, 1000.0) stay:
    # each such record is also mapped as its twin with plain integers (see OceanOracle.run_case).
    return rng.choice([0, 1, -1, 3, 42, 1.5, -0.25, 1e3, 1.0, 100.0, 2 ** 52, 10 ** 15, 123456.789,
                       3.14159, rng.randint(-1000, 1000), rng.random() * 1000])


def integral_twin(value):
    """The record with each integral float as an int: the same doubles for Tide (and jq 1.6), and
    the text jq 1.6 writes for Ocean (1.0 → 1)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, list):
        return [integral_twin(v) for v in value]
    if isinstance(value, dict):
        return {k: integral_twin(v) for k, v in value.items()}
    return value


def scalar(rng):
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(WORDS)
    if kind < 0.55:
        return number(rng)
    if kind < 0.7:
        return rng.choice(NUMBER_STRINGS)
    if kind < 0.8:
        return rng.choice([True, False])
    return None


def person(rng):
    if rng.random() < 0.2:
        return None
    return {"displayName": rng.choice(WORDS), "emailAddress": rng.choice(["a@b.c", None, "X@Y.Z"]),
            "active": rng.choice([True, False, None])}


def item(rng, index):
    entry = {"name": rng.choice(WORDS + [None, 3]), "id": rng.choice([str(index), index, None]),
             "n": rng.choice([index, str(index), None, 1.5])}
    if rng.random() < 0.15:
        return rng.choice(["plain string", 7, None, ["nested"]])
    return entry


def record(rng):
    """A Jira-like record with nulls, missing keys, wrong types, unicode, numbers as strings."""
    r = {}
    if rng.random() < 0.93:
        r["id"] = rng.choice([str(rng.randint(1, 99999)), rng.randint(1, 99999), "", None, "ID-" + rng.choice(WORDS)])
    r["key"] = rng.choice(["PROJ-1", "PROJ-22", "x", None, 5])
    fields = {}
    for name, make in [
        ("summary", lambda: rng.choice(WORDS + [None, 12])),
        ("priority", lambda: rng.choice([{"id": rng.choice(NUMBER_STRINGS), "name": rng.choice(WORDS)}, None, "High", {"id": 3}])),
        ("labels", lambda: rng.choice([[rng.choice(WORDS) for _ in range(rng.randint(0, 5))], [], None, "label", [1, None, "x"]])),
        ("components", lambda: [item(rng, i) for i in range(rng.randint(0, 6))]),
        ("created", lambda: rng.choice(DATES + [None, 1700000000])),
        ("assignee", lambda: person(rng)),
        ("storyPoints", lambda: rng.choice([number(rng), None, "5", "3.5"])),
        ("status", lambda: rng.choice([{"name": rng.choice(["Done", "In Progress", "To Do"]), "statusCategory": {"key": rng.choice(["done", "new", None])}}, None])),
    ]:
        if rng.random() < 0.85:
            fields[name] = make()
    if rng.random() < 0.9:
        r["fields"] = fields
    elif rng.random() < 0.5:
        r["fields"] = rng.choice(["oops", [1, 2], None])
    if rng.random() < 0.5:
        r["list"] = [item(rng, i) for i in range(rng.choice([0, 1, 3, 12, 60]))]
    for key in rng.sample(ODD_KEYS, rng.randint(0, 3)):
        r[key] = scalar(rng)
    if rng.random() < 0.4:
        r["num"] = number(rng)
    if rng.random() < 0.4:
        r["numstr"] = rng.choice(NUMBER_STRINGS)
    if rng.random() < 0.2:
        r["kind"] = rng.choice(["issue", "", None, 1])
    return r


# ---------------------------------------------------------------------------------------------
# Expressions

PATHS = [".id", ".key", ".fields.summary", ".fields.priority.id", ".fields.priority.name", ".fields.labels",
         ".fields.components", ".fields.created", ".fields.assignee.displayName", ".fields.assignee.emailAddress",
         ".fields.storyPoints", ".fields.status.name", ".fields.status.statusCategory.key", ".list", ".num",
         ".numstr", ".missing", ".missing.deeper", ".e1", ".E5", '.["a-b"]', '."with space"', '.["ü"]', '.[""]',
         '.["1"]', '.["key.dot"]', ".kind", ".fields", ".list[0]", ".list[-1].name", ".list[1:3]",
         ".fields.labels[0]", ".fields.components[0].name", ".list[0].n", ".fields.priority.id?",
         ".fields.labels[]?", ".list[]?.name", ".fields.assignee?.active"]
STRING_LITS = ['"x"', '"-"', '", "', '"ISSUE"', '""', '"é"']
REGEXES = ['"a"', '"^[A-Z]+-[0-9]+$"', '"\\\\d+"', '"(?<w>\\\\w+)"', '"ß|é"', '"^$"', '"[ "']


def path(rng):
    return rng.choice(PATHS)


def expr(rng, depth=0):
    """A mapping expression; deeper ones combine shallower ones."""
    if depth > 2 or rng.random() < 0.22:
        return path(rng)
    p = path(rng)
    e = lambda: expr(rng, depth + 1)
    choices = [
        lambda: f"{e()} // {rng.choice(STRING_LITS + ['null', '0', '[]'])}",
        lambda: f"{e()} | tostring",
        lambda: f"{e()} | tonumber",
        lambda: f"({e()} | tonumber?) // 0",
        lambda: f"{e()} | tojson",
        lambda: f'"\\({e()})-\\({p})"',
        lambda: f"{e()} | length",
        lambda: f"[{e()}] | length",
        lambda: f"{e()} | keys",
        lambda: f'{e()} | has("name")',
        lambda: f'{e()} | has(0)',
        lambda: f"{rng.choice(['.list', '.fields.components', '.fields.labels'])} | map(.name)",
        lambda: f"{rng.choice(['.list', '.fields.components'])} | map(select(.n != null)) | length",
        lambda: f"[{rng.choice(['.list', '.fields.components'])}[]? | select(.name != null) | .name]",
        lambda: f"{rng.choice(['.list', '.fields.components'])} | map(.n) | add",
        lambda: f"{e()} | select(. != null)",
        lambda: f"{e()} | join({rng.choice(STRING_LITS)})",
        lambda: f"{e()} | split({rng.choice(STRING_LITS)})",
        lambda: f"{e()} | test({rng.choice(REGEXES)})",
        lambda: f"{e()} | sub({rng.choice(REGEXES)}; \"X\")",
        lambda: f"{e()} | gsub({rng.choice(REGEXES)}; \"\\(.)\")" if False else f"{e()} | gsub({rng.choice(REGEXES)}; \"_\")",
        lambda: f"{e()} | ascii_downcase",
        lambda: f"{e()} | fromdate",
        lambda: f'{e()} | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime',
        lambda: f'{e()} | sub("\\\\.[0-9]+\\\\+0000$"; "Z") | fromdate',
        lambda: f"{e()} | todate",
        lambda: f'{e()} | strftime("%Y-%m-%d %Z")',
        lambda: f"if {e()} then {e()} else {e()} end",
        lambda: f"if {e()} then {e()} end",
        lambda: f"if {p} == null then {rng.choice(STRING_LITS)} elif ({p} | type) == \"string\" then {p} else ({p} | tostring) end",
        lambda: f"{{a: {e()}, b: {p}}}",
        lambda: f"[{e()}, {p}]",
        lambda: f"{e()} | type",
        lambda: f"({e()}) + 1",
        lambda: f"{e()} | . * 2",
        lambda: f"{e()} | floor",
        lambda: f"{e()} | ltrimstr(\"PROJ-\")",
        lambda: f"{e()} | ascii_upcase | .[0:3]",
        lambda: f"{e()} | unique",
        lambda: f"{e()} | first",
        lambda: f"[{e()}] | first",
        lambda: f"{e()} | not",
        lambda: f"{e()} | .name",
        lambda: f"{e()}[0]",
        lambda: f"{e()}.a.[0]",
        lambda: f"{e()} | .[1.5]",
        lambda: f"{e()} | try tonumber catch \"bad\"",
        lambda: f"{e()} | to_entries | map(.key) | join(\",\")",
        lambda: f"{e()} | @base64",
        lambda: f"{e()} | @uri",
        lambda: f"[{e()}] | @csv",
        lambda: f"{e()} | error",
        lambda: f'error("boom")',
        lambda: "empty",
        lambda: f"{e()}, {e()}",
        lambda: f"{p} as $v | $v",
        lambda: f"{e()} | trim",
        lambda: f"{e()} | abs",
        lambda: f"{e()} | pick(.name)",
        lambda: f"{e()} | toarray" if False else f"{e()} | tostring | length",
        lambda: f'{e()} | capture("(?<n>[0-9]+)") | .n',
        lambda: f'{e()} | splits(", *")',
        lambda: f"{e()} | min_by(.n)",
        lambda: f"{e()} | limit(2; .[])",
        lambda: f"{e()} | any",
        lambda: f"{e()} | IN(\"Done\", \"x\")",
    ]
    return rng.choice(choices)()


def selector(rng):
    if rng.random() < 0.7:
        return "true"
    return rng.choice([".fields.priority != null", '.key | test("PROJ")', ".id",
                       '(.fields.labels | length) > 1', "error(\"sel\")", "empty", ".fields.status.name == \"Done\"",
                       ".num > 10", ".missing", "has(\"list\")", "false", '.kind == "issue"'])


def search_query(rng):
    rule = lambda: {"property": rng.choice(["$identifier", "email", "name"]), "operator": rng.choice(["=", "in"]),
                    "value": expr(rng, 1)}
    rules = [rule() for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.2:
        rules.append({"combinator": "or", "rules": [rule()]})
    return {"combinator": rng.choice(["and", "or"]), "rules": rules}


def resource(rng, with_items=None):
    """One Ocean resource config (the dict Ocean's ResourceConfig parses)."""
    with_items = rng.random() < 0.15 if with_items is None else with_items
    mappings = {}
    mappings["identifier"] = (search_query(rng) if rng.random() < 0.08 else
                              rng.choice([".id", ".key", ".id | tostring", '"static"', ".fields.summary", expr(rng, 1)]))
    if rng.random() < 0.7:
        mappings["title"] = rng.choice([".fields.summary", expr(rng)])
    mappings["blueprint"] = rng.choice(['"issue"'] * 8 + [".kind", '"" ', "null", "1"])
    if rng.random() < 0.15:
        mappings["icon"] = rng.choice(['"Jira"', ".num", ".fields.priority", ".fields.labels", "true"])
    if rng.random() < 0.15:
        mappings["team"] = rng.choice([".fields.labels", ".key", ".num", search_query(rng)])
    properties = {}
    for index in range(rng.randint(0, 12)):
        properties[f"p{index}"] = expr(rng)
    if rng.random() < 0.1:
        properties["bad"] = rng.choice([".a | | .b", "if . then", ".[", "{$__loc__}", "nonexistent_fn(1)"])
    if with_items:
        properties["item"] = rng.choice([".item.name", ".item", ".item.n | tonumber", ".item | keys"])
    mappings["properties"] = properties
    if rng.random() < 0.5:
        mappings["relations"] = {f"r{i}": (search_query(rng) if rng.random() < 0.25 else expr(rng))
                                 for i in range(rng.randint(1, 3))}
    port = {"entity": {"mappings": mappings}}
    if with_items:
        port["itemsToParse"] = rng.choice([".list", ".fields.components", ".missing", ".fields.labels",
                                           ".list | map(select(.n != null))", ".fields.summary", ".fields.components[]?"])
        if rng.random() < 0.2:
            port["itemsToParseTopLevelTransform"] = False
    return {"kind": "item", "selector": {"query": selector(rng)}, "port": port}


# ---------------------------------------------------------------------------------------------
# Ocean, as the oracle

class OceanOracle:
    def __init__(self):
        from port_ocean.context.ocean import ocean
        from port_ocean.core.handlers.entity_processor.jq_entity_processor import JQEntityProcessor
        from port_ocean.core.handlers.entity_processor.jq_entity_processor_sync import JQEntityProcessorSync
        from port_ocean.core.handlers.port_app_config.models import ResourceConfig
        from port_ocean.core.models import Entity
        from port_ocean.core.integrations.mixins import utils as mixin_utils
        import logging
        from loguru import logger
        logger.remove()  # Ocean logs every failed field; the oracle reads results, not logs
        logging.disable(logging.CRITICAL)

        self.processor = JQEntityProcessor(ocean)
        config = types.SimpleNamespace(allow_environment_variables_jq_access=True, yield_items_to_parse_batch_size=200,
                                       process_in_queue_max_workers=1, process_in_queue_timeout=10)
        integration = types.SimpleNamespace(entity_processor=self.processor)

        async def no_blueprint(*_args, **_kwargs):
            raise RuntimeError("no Port here")
        app = types.SimpleNamespace(config=config, integration=integration,
                                    port_client=types.SimpleNamespace(get_blueprint=no_blueprint))
        ocean._app = app
        self.Sync = JQEntityProcessorSync
        self.ResourceConfig = ResourceConfig
        self.Entity = Entity
        self.handle_items_to_parse = mixin_utils.handle_items_to_parse

        async def not_dsp():
            return False
        mixin_utils.is_dsp_mode_enabled = not_dsp

    async def items(self, resource, raw):
        """Ocean's itemsToParse expansion of one record: (items, skipped)."""
        port = resource.port
        if not port.items_to_parse:
            return [raw], False
        items = []
        async for batch in self.handle_items_to_parse([raw], port.items_to_parse_name, port.items_to_parse,
                                                      port.items_to_parse_top_level_transform):
            items.extend(batch)
        if items:
            return items, False
        # No items: an empty list, or a record Ocean skipped with a warning (not a list, or the
        # top-level transform gave None), which handle_items_to_parse tells only in its log.
        listed = await self.processor._search(raw, port.items_to_parse)
        skipped = not isinstance(listed, list)
        if port.items_to_parse_top_level_transform and not skipped:
            from port_ocean.core.integrations.mixins.utils import extract_jq_deletion_path_revised
            target = extract_jq_deletion_path_revised(port.items_to_parse) or "."
            skipped = await self.processor._search(raw, f". | del({target})") is None
        return items, None if skipped else False

    async def map_item(self, resource, data):
        """One item through Ocean's _parse_items steps, per item."""
        raw_mappings = resource.port.entity.mappings.dict(exclude_unset=True)
        query = resource.selector.query
        compileable, uncompileable = await self.processor.separate_compileable_and_uncompileable_patterns_and_warmup_cache(
            raw_mappings, [query])
        # The fork pool's worker body (_calculate_entity), run here.
        try:
            sync = ([self.Sync._get_mapped_entity(data, compileable, query, False)], [])
        except Exception as error:  # noqa: BLE001 - as Ocean's worker does
            sync = ([], [error])
        async_results = await self.processor.parse_items_async(uncompileable, [data], query, False)
        try:
            results, errors = self.processor.merge_results(([sync], []), async_results, [data])
        except Exception as error:  # noqa: BLE001
            return {"outcome": "batchError", "message": str(error)}
        if errors:
            return {"outcome": "error", "message": str(errors[0])}
        if not results:
            return {"outcome": "none"}
        result = results[0]
        misconfigured = sorted(result.misconfigurations.keys())
        if not result.entity:
            return {"outcome": "filtered"}
        if result.entity.get("identifier") and result.entity.get("blueprint"):
            try:
                entity = self.Entity.parse_obj(result.entity)
            except Exception as error:  # noqa: BLE001 - fails Ocean's whole batch
                return {"outcome": "batchError", "message": str(error).splitlines()[0]}
            shown = {key: getattr(entity, key) for key in result.entity}
            return {"outcome": "entity", "entity": shown, "misconfigured": misconfigured}
        return {"outcome": "skipped", "misconfigured": misconfigured}

    async def run_case(self, case):
        resource = self.ResourceConfig.parse_obj(case["resource"])
        results = []
        for text in case["records"]:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                results.append({"itemsSkipped": False, "items": [{"outcome": "error", "message": "not an object"}]})
                continue
            results.append(await self.run_record(resource, raw))
            twin = integral_twin(raw)
            if json.dumps(twin) != json.dumps(raw):
                # Tide's result must equal Ocean's on the original or on this twin (number-literals).
                results[-1]["twin"] = await self.run_record(resource, twin)
        return results

    async def run_record(self, resource, raw):
        items, skipped = await self.items(resource, raw)
        return {"itemsSkipped": skipped is None,
                "items": [await self.map_item(resource, copy.deepcopy(i)) for i in items]}


def sanitize(value):
    """Ocean's values as JSON: NaN/inf as jq.py would never produce them, kept strict."""
    return json.loads(json.dumps(value, default=str, allow_nan=True).replace("NaN", "null").replace("Infinity", "1.7976931348623157e+308"))


def make_cases(seed, count, prefix, per_mapping=RECORDS_PER_MAPPING):
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        res = resource(rng)
        records = [json.dumps(record(rng), ensure_ascii=False) for _ in range(per_mapping)]
        cases.append({"id": f"{prefix}-{index}", "resource": res, "records": records})
    return cases


_ORACLE = {}


def run_oracle(cases):
    # One oracle per process: Ocean caches compiled patterns per processor, and minimising maps
    # hundreds of variants of one mapping.
    if not _ORACLE:
        _ORACLE["oracle"], _ORACLE["loop"] = OceanOracle(), asyncio.new_event_loop()
    oracle, loop = _ORACLE["oracle"], _ORACLE["loop"]
    for case in cases:
        case["ocean"] = sanitize(loop.run_until_complete(oracle.run_case(case)))
    return cases


def write(path, cases, seed):
    pairs = sum(len(c["records"]) for c in cases)
    path.write_text(json.dumps({"generator": "scripts/fuzz-mappings.py", "ocean": "port-ocean 0.56.2", "seed": seed,
                                "pairs": pairs, "cases": cases}, ensure_ascii=False, indent=0, allow_nan=False) + "\n")
    return pairs


# ---------------------------------------------------------------------------------------------
# Campaigns: Ocean's side in worker processes, Tide's in the release-built tide-ocean-fuzz (the
# comparison MappingFuzzTests makes); differences come back as JSON

TIDE_FUZZ = ROOT / ".build/release/tide-ocean-fuzz"
_WORKER = {}


def _oracle_worker_init():
    _WORKER["oracle"] = OceanOracle()
    _WORKER["loop"] = asyncio.new_event_loop()


def _oracle_chunk(args):
    """One chunk of a campaign, generated and mapped by Ocean in a worker process."""
    seed, start, count, records, prefix = args
    cases = make_cases(seed * 1_000_003 + start, count, f"{prefix}-{start}", records)
    for case in cases:
        case["ocean"] = sanitize(_WORKER["loop"].run_until_complete(_WORKER["oracle"].run_case(case)))
    return start, cases


def tide_compare(corpus_path, diffs_path):
    """Tide's differences from Ocean over a corpus file. A crash of the comparer (libjq aborting
    on some case) is itself a difference: the corpus is halved until the crashing case is found."""
    if diffs_path.exists():
        diffs_path.unlink()
    done = subprocess.run([str(TIDE_FUZZ), str(corpus_path), str(diffs_path)], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode == 0 and diffs_path.exists():
        return json.loads(diffs_path.read_text())
    cases = json.loads(corpus_path.read_text())["cases"]
    if len(cases) == 1:
        return {"pairs": len(cases[0]["records"]), "timed": 0, "slow": [], "known": {},
                "differences": [{"case": cases[0]["id"], "record": 0,
                                 "detail": f"tide-ocean-fuzz exited with {done.returncode}: {done.stderr[-300:]}"}]}
    merged = {"pairs": 0, "timed": 0, "slow": [], "known": {}, "differences": []}
    half = len(cases) // 2
    for part in (cases[:half], cases[half:]):
        sub = corpus_path.with_suffix(f".{len(part)}.{part[0]['id']}.json")
        write(sub, part, None)
        merge_results(merged, tide_compare(sub, diffs_path))
        sub.unlink()
    return merged


def merge_results(total, part):
    for key in ("pairs", "timed"):
        total[key] += part[key]
    total["slow"] += part["slow"]
    total["differences"] += part["differences"]
    for name, count in part["known"].items():
        total["known"][name] = total["known"].get(name, 0) + count


def reductions(case):
    """Smaller versions of one differing (mapping, record): one field, no optional fields, fewer
    record keys, smaller record values."""
    mappings = case["resource"]["port"]["entity"]["mappings"]
    out = []

    def variant(edit):
        candidate = copy.deepcopy(case)
        edit(candidate)
        if candidate != case:
            out.append(candidate)

    fields = [(group, key) for group in ("properties", "relations") for key in mappings.get(group, {})]
    if len(fields) > 1:
        for group, key in fields:
            def one(c, group=group, key=key):
                cm = c["resource"]["port"]["entity"]["mappings"]
                cm[group] = {key: cm[group][key]}
                cm.pop("relations" if group == "properties" else "properties", None)
            variant(one)
    for optional in ("title", "icon", "team", "properties", "relations"):
        if optional in mappings:
            variant(lambda c, o=optional: c["resource"]["port"]["entity"]["mappings"].pop(o))
    if case["resource"]["selector"]["query"] != "true":
        variant(lambda c: c["resource"]["selector"].update(query="true"))
    raw = json.loads(case["records"][0])

    def with_record(value):
        variant(lambda c: c.__setitem__("records", [json.dumps(value, ensure_ascii=False)]))

    def shrink(value, path):
        """Records with one key or element removed, or one container emptied, under path."""
        if isinstance(value, dict):
            for key in list(value):
                smaller = dict(value)
                del smaller[key]
                yield path, smaller
                for inner_path, inner in shrink(value[key], path + [key]):
                    yield inner_path, inner
        elif isinstance(value, list) and value:
            for index in range(len(value)):
                yield path, value[:index] + value[index + 1:]
            for index, element in enumerate(value):
                for inner_path, inner in shrink(element, path + [index]):
                    yield inner_path, inner

    def replaced(root, path, value):
        if not path:
            return value
        root = copy.deepcopy(root)
        target = root
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return root

    for path, smaller in shrink(raw, []):
        with_record(replaced(raw, path, smaller))
    return out


def minimise(case, record_index, work, budget=12):
    """Greedy: keep the smallest reduction that still differs, until none does (or budget runs out).
    Variants that share a mapping are mapped as one case with many records: Tide compiles a
    mapping once per case, and that is most of the cost."""
    best = {"id": case["id"], "resource": copy.deepcopy(case["resource"]), "records": [case["records"][record_index]]}
    for _ in range(budget):
        candidates = reductions(best)[:400]
        if not candidates:
            break
        grouped = {}
        for candidate in candidates:
            key = json.dumps(candidate["resource"], sort_keys=True)
            grouped.setdefault(key, {"id": f"min-{len(grouped)}", "resource": candidate["resource"], "records": []})
            grouped[key]["records"].append(candidate["records"][0])
        batch = list(grouped.values())
        run_oracle(batch)
        path = work / "minimise.json"
        write(path, batch, None)
        still = {(d["case"], d["record"]) for d in tide_compare(path, work / "min-diffs.json")["differences"]}
        kept = [{"resource": c["resource"], "records": [r]} for c in batch for i, r in enumerate(c["records"])
                if (c["id"], i) in still]
        if not kept:
            break
        best = min(kept, key=lambda c: len(json.dumps(c)))
    best = {"id": case["id"], "resource": best["resource"], "records": best["records"]}
    run_oracle([best])
    return best


def append_regressions(cases):
    """Appends minimised differences to the committed regressions, as they are found."""
    existing = json.loads(REGRESSIONS.read_text())["cases"] if REGRESSIONS.exists() else []
    seen = {signature(c) for c in existing}
    added = 0
    for case in cases:
        if signature(case) not in seen:
            seen.add(signature(case))
            case["id"] = f"regression-{len(existing)}"
            existing.append(case)
            added += 1
    write(REGRESSIONS, existing, None)
    return added


def signature(case):
    return json.dumps([case["resource"], case["records"]], sort_keys=True)


def campaign(seed, pairs, work, jobs, records, chunk_mappings, max_new):
    import multiprocessing
    import time
    if not TIDE_FUZZ.exists():
        sys.exit("fuzz: build the comparer first: swift build -c release --product tide-ocean-fuzz")
    work.mkdir(parents=True, exist_ok=True)
    mappings = max(1, -(-pairs // records))
    print(f"fuzz: seed {seed}, {mappings} mappings x {records} records, {jobs} Ocean workers", flush=True)
    started = time.time()
    total = {"pairs": 0, "timed": 0, "slow": [], "known": {}, "differences": []}
    existing = json.loads(REGRESSIONS.read_text())["cases"] if REGRESSIONS.exists() else []
    seen = {signature(c) for c in existing}
    new_cases = []
    chunks = [(seed, start, min(chunk_mappings, mappings - start), records, f"s{seed}")
              for start in range(0, mappings, chunk_mappings)]
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_oracle_worker_init) as pool:
        for start, cases in pool.imap(_oracle_chunk, chunks):
            corpus = work / f"corpus-{seed}-{start}.json"
            write(corpus, cases, seed)
            result = tide_compare(corpus, work / f"diffs-{seed}-{start}.json")
            merge_results(total, result)
            by_id = {c["id"]: c for c in cases}
            # One minimisation per differing mapping: its other records almost always differ
            # for the same reason.
            minimised_cases = set()
            for difference in result["differences"]:
                if difference["case"] in minimised_cases or len(new_cases) >= max_new:
                    continue
                minimised_cases.add(difference["case"])
                small = minimise(by_id[difference["case"]], difference["record"], work)
                small["detail"] = difference["detail"]
                if signature(small) not in seen:
                    seen.add(signature(small))
                    new_cases.append(small)
                    append_regressions([copy.deepcopy(small)])
            if not result["differences"] and not result["slow"]:
                corpus.unlink()
            print(f"fuzz: {total['pairs']} pairs, {len(total['differences'])} differences, {len(total['slow'])} slow, "
                  f"known {total['known']}, {time.time() - started:.0f} s", flush=True)
    (work / f"campaign-{seed}.json").write_text(json.dumps(total | {"seed": seed, "records": records}, indent=1))
    if new_cases:
        print(f"fuzz: {len(new_cases)} new differences, minimised, appended to {REGRESSIONS.relative_to(ROOT)}")
    for slow in total["slow"][:20]:
        print(f"fuzz: slow: {slow}")
    print(f"fuzz: done, seed {seed}: {total['pairs']} mapping x record pairs ({total['timed']} timed), "
          f"{len(total['differences'])} differences, {len(total['slow'])} slow, known {total['known']}")
    return 1 if total["differences"] or total["slow"] else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["fixture", "campaign"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--work", default="/tmp/tide-fuzz")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Ocean worker processes")
    parser.add_argument("--records", type=int, default=16, help="records per mapping in a campaign")
    parser.add_argument("--chunk", type=int, default=250, help="mappings per chunk compared at once")
    parser.add_argument("--max-new", type=int, default=60, help="differences minimised per campaign")
    args = parser.parse_args()
    if args.mode == "fixture":
        cases = run_oracle(make_cases(FIXTURE_SEED, FIXTURE_MAPPINGS, "fixture"))
        pairs = write(CORPUS, cases, FIXTURE_SEED)
        print(f"fuzz: wrote {len(cases)} mappings, {pairs} pairs to {CORPUS.relative_to(ROOT)}")
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    return campaign(seed, args.pairs, pathlib.Path(args.work), args.jobs, args.records, args.chunk, args.max_new)


if __name__ == "__main__":
    sys.exit(main())
