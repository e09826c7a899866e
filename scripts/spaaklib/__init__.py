"""spaaklib: the Python peer of the SpaaK module, written from the ICD (../shared/spec/ICD.md),
shared by the demo (scripts/demo_session), the benchmarks (scripts/benchlib), the EOL tester
(scripts/eol) and the bus tests (tests/bus).

- ``e2e``: CRC-8/SAE-J1850 and the E2E protection of the cyclic frames (ICD 3);
- ``signals``: the names of the SPAAK_Status flags, use cases and owner-pairing states (ICD 3);
- ``uds``: the DIDs of ICD 5.2, security access (AES-128-CMAC of the seed with K_plant, ICD 5.3),
  udsoncan's client configuration with raw DIDs, kernel ISO-TP connections;
- ``process``: finding the built executables, and starting ``spaak-ecu`` / ``spaak-cloud``
  with ``--ready-fd`` and waiting for their ``READY=1``.

Nothing here imports or runs the project's Swift code as a library: it is an independent peer
of it on the bus. (tests/dbc keeps its own CRC on purpose: it is the DBC test's oracle.)
"""
