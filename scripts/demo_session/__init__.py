"""The session of ``scripts/demo``: the whole life of SpaaK modules, told on the bus.

Design (run where vcan0..vcanN exist: ``scripts/demo`` runs it through ``scripts/vcan-run``
with ``VCAN_IFACES="vcan0 vcan1 .. vcanN"``):

1. Plant line, bus vcan0: ``spaak-pki init``; N modules (``spaak-ecu``, serials
   SPK0000000001.., stores store-k). As the ICD says for a plant batch, each module
   has its own UDS pair (0x7A0, 0x7B0, 0x7C0, .. +8); each also sends SPAAK_Status on its own
   id (0x3A8, 0x3A9, ..) so that the trace can tell the modules apart on this one bus. The
   EOL tester (scripts/eol-tester) provisions the batch: roots and VIN (RP-01), key pair and
   CSR (RP-02), the CSRs to the PKI in one batch, certificates back, plant lock.
2. Into the vehicles: one module per vehicle, as in reality. The plant processes stop and
   module k starts again from its store on bus vcan k with the ICD default identifiers
   (UDS 0x7A0/0x7A8, SPAAK_Status 0x3A8, cloud 0x6A0/0x6A8): the power cycle shows that
   the plant provisioning is kept. Each vehicle bus has its own ``spaak-cloud serve`` (TBM,
   offline at first, and VOS with its database out/demo/cloud/vos-k.sqlite: one database
   per simulator, since SQLite's lock would make simulators sharing one wait on each other
   in their event loops); ``spaak-cloud ctl … register-ecu`` registers the module's ECU
   identity certificate from the plant.
3. ``ctl tbm online``: the module runs SP-02 (drmUUID) then PP-01 (vehicle identity [K]).
4. ``ctl push-verifier SERIAL``: PP-02.
5. The owners are bound to their vehicles at the VOS (``ctl register-owner VIN USER``: alice,
   bob, …); each ``spaak-cloud serve`` has the VOS's owner services on an HTTP port of the
   loopback interface (``--http 127.0.0.1:0``: the port it prints), checks the tokens of the
   simulated identity provider (``spaak-cloud token``, one ES256 key in the run folder) and
   writes its e-mails to a Maildir (``--mail-dir``).
6. Owner pairing over NFC (ICD 8), ``spaak-phone`` playing the head unit, the NFC reader and
   the phones. On vehicles 2.. (all of them with one module): ``spaak-phone hu-start`` opens
   the pairing window (SPAAK_Status byte 7 = 1); a phone with the VOS's password mistyped
   (``ctl password``, then ``pair --wrong-password --attempts 8``) fails eight times, byte 6
   counts them and the 8th makes the module delete its verifier and run PP-03 (reason 2).
   Then the owners get the (new) password as the app does. OP-01a on vehicles 1, 3, 5: the
   owner's phone, ``pair --api URL --token JWT --vin VIN``, asks the VOS for it, confirms
   receipt; the VOS sends OwnerPairingModeRequest 0x0E, which opens the window without the
   HU (vehicle 1's was closed); the phone waits for byte 7 = 1, then runs phase 2 (byte 7 = 2)
   and phase 3 (byte 7 = 3); the module reports OwnerPairingStatus 0x0D. OP-01b on vehicles
   2, 4, 6: the customer portal (a portal token) has the VOS e-mail the pairing link; the demo
   reads the e-mail from the Maildir, and the phone redeems its deep link (``pair --api …
   --deep-link``): 0x0E, the pairing. D124, ``ctl status`` and ``GET /v1/vehicles/{vin}``
   show the owner key.
7. ``ctl terminate-owner-key SERIAL``: the KTS's 0x0C deletes owner key and verifier
   (byte 7 = 0), PP-03 (reason 1).
8. DIDs 0xD120 and 0xD124 of each module in words; the fleet view of the VOS (``GET
   /v1/fleet`` with a help-centre agent's token) as a table; the sequence diagram of the run
   (plant UDS requests from the bus, HU_Request, the taps and one arrow per APDU from the bus,
   byte 7 changes, cloud messages from the spaak-cloud traces, the HTTP calls on the lane
   "App / portal (HTTP)") as Mermaid, text and image.

The stores, the VOS databases and the traces live in a temporary folder of the machine
where the bus is while the demo runs (in the VM, its memory: an fsync through the VM's
shared folder would stall the event loops) and are copied to out/demo at the end.

Every wait is on a line, a SPAAK_Status bit or an exit, bounded by ``--timeout``; every
child process is stopped at the end, on error and on Ctrl-C. Results: out/demo/summary.json.
"""
