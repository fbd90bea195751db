"""``corral demo``: Corral serving a small agent fleet at work, for a first look at everything.

- :mod:`.servers`: Corral and the fake provider, served from this process;
- :mod:`.world`: the workspace the fleet needs, set up idempotently through the API;
- :mod:`.model`: what the fake model answers, playing each agent and each injected failure;
- :mod:`.scenario`: the tasks, ordinary and not;
- :mod:`.canary`: two reviewer versions tried as canaries;
- :mod:`.runner`: all of it in order, with a progress bar.

The agents themselves are the shipped examples, :mod:`corral.examples.fleet`.
"""
