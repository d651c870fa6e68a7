#!/usr/bin/python3
"""lint-structure.py [SRC] - the layout rules of src/ (make lint-structure).

  - no source file over MAX_LINES lines (one file, one concern);
  - no include circle among a program's own headers (src/PROG/a.h
    included by b's files and b.h by a's);
  - every src/lib module is used by two programs or more (directly, or
    through another src/lib module they use); what one program needs
    lives in that program's directory.
Prints each breach and exits 1, or one summary line and exits 0.
"""
import os
import re
import sys

MAX_LINES = 800
INC = re.compile(r'\s*#\s*include\s+"([a-z0-9_/]+)\.h"')


def modules(d):
    """{module: set of local modules its .c/.h include} for one directory.
    A module is NAME.c with NAME.h; a header without a .c (types, or a
    module's private half such as md_priv.h) has no code of its own, so
    what includes it depends on what it includes instead."""
    deps = {}
    for f in sorted(os.listdir(d)):
        mod, ext = os.path.splitext(f)
        if ext not in ('.c', '.h'):
            continue
        deps.setdefault(mod, set())
        with open(os.path.join(d, f), encoding='utf-8') as fh:
            for line in fh:
                m = INC.match(line)
                if m and m.group(1) != mod:
                    deps[mod].add(m.group(1))
    code = {m for m in deps if os.path.exists(os.path.join(d, m + '.c'))}
    out = {}
    for m in code:
        seen, todo, res = set(), list(deps[m]), set()
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            if x in code:
                res.add(x)
            elif x in deps:
                todo += deps[x]
            else:
                res.add(x)      # a header of another directory
        res.discard(m)
        out[m] = res
    return out


def circles(deps):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in deps.get(v, ()):
            if w not in deps:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else 'src'
    bad = []
    progs = sorted(p for p in os.listdir(src)
                   if os.path.isdir(os.path.join(src, p)))
    nfiles = 0
    for p in progs:
        d = os.path.join(src, p)
        for f in sorted(os.listdir(d)):
            if not f.endswith(('.c', '.h')):
                continue
            nfiles += 1
            with open(os.path.join(d, f), encoding='utf-8') as fh:
                n = sum(1 for _ in fh)
            if n > MAX_LINES:
                bad.append('%s/%s: %d lines (more than %d): split it along '
                           'its concerns' % (d, f, n, MAX_LINES))
    graph = {p: modules(os.path.join(src, p)) for p in progs}
    for p in progs:
        for c in circles(graph[p]):
            bad.append('%s/%s: include circle %s' %
                       (src, p, ' -> '.join(c + c[:1])))
    lib = graph.get('lib', {})
    users = {m: set() for m in lib if os.path.exists(
        os.path.join(src, 'lib', m + '.c'))}
    for p in progs:
        if p == 'lib':
            continue
        seen, todo = set(), []
        for deps in graph[p].values():
            todo += [m for m in deps if m in lib]
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += [x for x in lib[m] if x in lib]
        for m in seen & set(users):
            users[m].add(p)
    for m in sorted(users):
        if len(users[m]) < 2:
            bad.append('%s/lib/%s.c: used by %s only: move it to that '
                       'program' % (src, m, ', '.join(sorted(users[m])) or
                                    'no program'))
    for b in bad:
        print(b)
    if bad:
        return 1
    print('lint-structure: %d files, none over %d lines, no include circle, '
          '%d lib modules each shared' % (nfiles, MAX_LINES, len(users)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
