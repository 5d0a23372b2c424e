"""Synthetic England: seeded, reproducible child records for every council, built on real reference data.

    from whoelse.harness.synth.generate import generate
    from whoelse.harness.synth.writer import write

    population = generate(["E08000035", "E08000036"], scale=0.001, seed=1)  # or children_per_council=N
    write(population, "out/", fmt="jsonl")  # <CODE>.jsonl per council, ground_truth.jsonl, ...

or from the command line: ``whoelse synth --councils E08000035,E08000036 --out out/``.
Reference data (councils, postcode samples) lives in harness/data/; see harness/data/README.md for sources.
"""
