"""The project's own import graph: no cycles, and imports point one way (README, "Layout").

The graph is read from the source with ast (nothing is imported), over every .py file of the repository
outside tests/ and benchmarks/; an edge a -> b means module a imports project module b at any depth of its
body (a function-level import counts: it is still a dependency).
"""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {"tests", "benchmarks", "data", "docs", "configs", "runs", "checkpoints"}
# lower layers never import higher ones:
# clinic <- tools, kb, reward <- env <- decoding <- agent <- distributed <- warmstart, grpo <- ttopd
# <- integrations (the trainers people already use: nothing in the project imports them)
LAYERS = [["clinic"], ["tools", "kb", "reward"], ["env"], ["decoding"], ["agent"], ["distributed"],
          ["warmstart", "grpo"], ["ttopd"], ["integrations"]]


def project_modules():
    mods = {}
    for dirpath, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.startswith(".")]
        for n in names:
            if n.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, n), ROOT)[:-3].replace(os.sep, ".")
                mods[rel.removesuffix(".__init__")] = os.path.join(dirpath, n)
    return mods


def imported(node, here):
    """Module names an import statement names (relative imports resolved against `here`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = here.split(".")[:-node.level]
        base = ".".join(parts + ([base] if base else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def import_graph():
    mods = project_modules()
    graph = {}
    for name, path in mods.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        deps = {d for node in ast.walk(tree) for d in imported(node, name) if d in mods and d != name}
        graph[name] = deps
    return graph


def find_cycle(graph):
    state = {}

    def visit(n, stack):
        state[n] = "open"
        for d in sorted(graph[n]):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d, stack + [d])
                if found:
                    return found
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n, [n])
            if found:
                return found
    return None


def layer_of(module):
    top = module.split(".")[0]
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def test_the_project_import_graph_has_no_cycle():
    graph = import_graph()
    assert "agent" in graph and "clinic.bank" in graph, "the walk must see the project's modules"
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_imports_point_one_way():
    wrong = [(a, b) for a, deps in import_graph().items() for b in deps
             if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a)]
    assert not wrong, f"a lower layer imports a higher one: {wrong}"


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
