"""The rules that pick the docs' examples (tests/docs_examples.py, docs/development.md): which
blocks run, how they are marked, how addresses are replaced; and that today's docs have some."""

from __future__ import annotations

from tests.docs_examples import all_examples, commands, examples_in, localize

PAGE = """\
Text.

```sh
make run    # not an example: no clickpath or curl command
```

```sh
KEY=$(.venv/bin/clickpath keys create --role admin)
curl -s -H "Authorization: Bearer $KEY" \\
  http://127.0.0.1:8000/v1/reports/funnel   # a continued command
```

<!-- example: skip — needs a ClickHouse server -->
```sh
clickpath report
```

<!-- example: exits 1 — the file has a bad line -->

```sh
CLICKPATH_X=1 clickpath import bad.jsonl
```

```sql
-- a comment
SELECT 1;

SELECT 2
  ;
```

```
clickpath report   # output, not run
```
"""


def test_which_blocks_are_examples_and_how_they_are_marked() -> None:
    found = examples_in("page.md", PAGE)
    assert [(e.line, e.kind, e.skip, e.exit_code) for e in found] == [
        (7, "sh", None, 0),
        (14, "sh", "needs a ClickHouse server", 0),
        (20, "sh", None, 1),
        (24, "sql", None, 0),
    ]
    assert found[0].where == "page.md:7"
    assert found[3].statements() == ["-- a comment\nSELECT 1", "SELECT 2"]


def test_continuations_join_and_addresses_become_the_instances() -> None:
    [first] = [e for e in examples_in("page.md", PAGE) if e.line == 7]
    assert commands(first.text)[1].endswith("http://127.0.0.1:8000/v1/reports/funnel   # a continued command")
    extra = "\nexport B=127.0.0.1:36419 L=localhost:8000"
    script = localize(first.text + extra, "127.0.0.1:5555", "127.0.0.1:7777")
    assert "127.0.0.1:5555/v1/reports" in script and "B=127.0.0.1:7777" in script
    assert "L=127.0.0.1:5555" in script and ":8000" not in script


def test_the_readme_and_docs_have_examples_and_every_skip_says_why() -> None:
    examples = all_examples()
    assert any(e.page == "README.md" and e.kind == "sh" for e in examples)
    assert any(e.kind == "sql" for e in examples)
    assert all(e.skip and e.skip != "no reason given" for e in examples if e.skip is not None)
