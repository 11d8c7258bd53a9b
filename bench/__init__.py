"""lchat's benchmark suite: `python -m bench` (or `make bench`) runs every row of issue #7.

Each module measures one row against its reference in the same run and returns table rows;
`__main__` prints them as a Markdown table. Nothing here is imported by lchat itself.
"""
