# SPDX-License-Identifier: MIT
"""The ctypes mirrors of the C structures and constants (shmipc._layout) agree with the C compiler:
sizeof, alignment, and every mirrored field's offset and size, and each constant's value. A header
change that moves a field fails here instead of corrupting memory."""
from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

from shmipc import _layout as L
from shmipc import _lib


def _c_program() -> str:
    lines = ["#include <shmipc/shmipc.h>", "#include <stddef.h>", "#include <stdio.h>", "#include <sys/uio.h>",
             "int main(void)", "{"]
    for s in L.STRUCTS:
        t = s._c_name_
        lines.append(f'    printf("S {t.replace(" ", "_")} %zu %zu\\n", sizeof({t}), _Alignof({t}));')
        for f in s._fields_:
            fn = f[0]
            lines.append(f'    printf("F {t.replace(" ", "_")}.{fn} %zu %zu\\n", offsetof({t}, {fn}), '
                         f'sizeof((({t} *)0)->{fn}));')
    for k in L.CONSTANTS:
        lines.append(f'    printf("K {k} %lld\\n", (long long)({k}));')
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("layout")
    src, exe = d / "layout.c", d / "layout"
    src.write_text(_c_program())
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-I", str(SOURCE_DIR / "include"), "-I",
                        str(BUILD_DIR / "include"), str(src), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, f"the layout program does not compile:\n{r.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = {}
    for line in out.splitlines():
        kind, key, *vals = line.split()
        got[(kind, key)] = tuple(int(v) for v in vals)
    return got


@pytest.mark.parametrize("struct", L.STRUCTS, ids=lambda s: s._c_name_)
def test_mirrored_structure_has_the_c_size_alignment_and_field_offsets(c_layout: dict, struct: type) -> None:
    t = struct._c_name_.replace(" ", "_")
    assert c_layout[("S", t)] == (ctypes.sizeof(struct), ctypes.alignment(struct)), t
    for f in struct._fields_:
        desc = getattr(struct, f[0])
        assert c_layout[("F", f"{t}.{f[0]}")] == (desc.offset, desc.size), f"{t}.{f[0]}"


@pytest.mark.parametrize("name", sorted(L.CONSTANTS))
def test_mirrored_constant_has_the_c_value(c_layout: dict, name: str) -> None:
    assert c_layout[("K", name)] == (L.CONSTANTS[name],)


@pytest.mark.parametrize("struct", sorted(L.OPTS_INIT, key=lambda s: s._c_name_), ids=lambda s: s._c_name_)
def test_options_are_filled_by_the_library_with_the_mirrored_size(struct: type) -> None:
    opts = _lib.new_opts(struct)
    assert opts.size == ctypes.sizeof(struct)
    assert list(opts.reserved) == [0, 0, 0, 0]


def test_options_whose_size_disagrees_with_the_library_are_refused() -> None:
    class Longer(L.EventOpts):  # a mirror written for a header with one more field
        _fields_ = [("later", ctypes.c_uint64)]
    L.OPTS_INIT[Longer] = "shmipc_event_opts_init"
    try:
        with pytest.raises(RuntimeError, match="do not match"):
            _lib.new_opts(Longer)
    finally:
        del L.OPTS_INIT[Longer]


def test_every_function_the_binding_declares_is_exported_by_the_library() -> None:
    missing = [n for n in _lib._PROTOS if not hasattr(_lib.lib, n)]
    assert missing == []
