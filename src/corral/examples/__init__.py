"""Example agents built on Corral, shipped with the package so ``corral demo`` runs them.

Everything under ``corral.examples`` uses only what an agent of your own would use: the ``openai``
client pointed at Corral's gateway and the public ``corral`` SDK. Copy freely.
"""
