"""The engine: sessions on PTYs or pipes, their processes, output buffers and truncation.

No JSON and no tool names here: the engine takes parameter objects
(:mod:`streamshell.params`) and returns results (:mod:`streamshell.results`). The tools
layer above turns model calls into these, and texts out of them.
"""
