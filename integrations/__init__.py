"""The GYM in the trainers people already use. Nothing in the top-level modules imports this package; each
file needs only what it names.

  trl_env.py    TRL GRPOTrainer(environment_factory=...): one environment class per domain whose methods
                are the domain's tools, reset() giving the case and get_reward() the 5D reward (needs trl)
  server.py     MedicalEnv behind an HTTP server: sessions, reset/step/state, bounded and expiring
                (standard library only)
  client.py     RemoteMedicalEnv: a Gymnasium env that plays a server's episodes
  train_trl.py  a runnable TRL example on the embedded tiny model
"""
