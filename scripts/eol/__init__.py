"""SpaaK end-of-line tester (ICD 5, use cases RP-01 and RP-02): python-can, can-isotp and
udsoncan, as plant test engineers use them. Run it as ``scripts/eol-tester``."""
