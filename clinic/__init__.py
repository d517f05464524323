"""The clinical content that feeds the environment: facts, scores, generators, KB passages, images, loaders.

  knowledge.py     diseases, labs, imaging findings, protocols, decision rules, SOURCES; `review` table
  pharmacology.py  drugs, pregnancy safety by gestational week, interactions by drug class
  scores.py        the 22 clinical scores as pure functions of their published inputs
  domains/         one file per clinical domain: its generator, tool menu, answer types, safety kinds
  cases.py         the pieces the domain generators share (patients, sections, options, constraints)
  taskgen.py       writes the bank from every domain, deterministically (`python -m clinic.taskgen`)
  toolset.py       @tool(kind), and the retrieval, intervention and scaffold tools (tools.py registers all)
  charttools.py    the record, clinical-score and image tool bodies
  bank.py          where the bank lives and load_tasks, which the env, agent and trainer read it with
  kbtext.py        the embedded knowledge-base passages written from the same tables
  images.py        ECG strips and skin lesions: render and measure back; PNG encode/decode
  loaders.py       public QA benchmark files -> tasks
  files.py         JSONL errors with line numbers, atomic commits, locks, manifests, the `error:` contract

Nothing here imports the environment, tools, agent or trainer: content is the bottom of the import graph.
"""
