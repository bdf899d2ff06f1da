"""The base of the records built once per consumed message: frozen, like a frozen dataclass, but cheap to build.

A frozen dataclass sets each field through object.__setattr__ in its
__init__: a ten-field one took 2.1 µs to build here, a msgspec Struct with
the same fields 0.19 µs, and reading a field costs the same (measured on
this project's development machine, Python 3.11). The consumer builds four
such records per message (the message, its transaction tag, the change, the
batch's action) and the marts worker as many: as frozen dataclasses they
were about a third of the polling thread's work per message. Records built
rarely (settings, transactions, schema steps) stay frozen dataclasses.

Records are also left out of the garbage collector's passes (gc=False): a
drain holds every message of a transaction until its END, and scanning them
over and over took 10 to 20 % of a 100,000-message drain (measured with the
collector off). That is safe because a record can never be part of a
reference cycle: it is immutable, and holds scalars, tuples, other records
and the decoded JSON of a message (a tree), never a container that could
come to refer back to it. Reference counting frees them as before. A record
type that must hold something else is no Record.

What differs from a dataclass: `msgspec.structs.replace` instead of
`dataclasses.replace`, and `msgspec.field(default_factory=...)`.
"""
from __future__ import annotations

import msgspec


class Record(msgspec.Struct, frozen=True, gc=False):
    """A frozen record: fields declared as on a dataclass, equal and hashable by value. A subclass says
    `frozen=True` again (it is inherited; type checkers want it stated)."""
