import Provisioning
import SpaakCore
import UDS

/// The routines of ICD 5.4 that start cloud work: 0xD203 owner change, 0xF010 owner pairing
/// start (simulated), 0xF011 failed owner pairing (simulated). Each is an input of the
/// provisioning machine; its result (`31 03`) reads "running" while the use case it caused
/// runs, or while the store write it caused is owed (then the start answered NRC 0x72).
extension VehicleProvisioning {
    /// 0x31 for one of these routines.
    func routine(_ type: RoutineControlType, _ routine: ProvisioningRoutine, now: Instant) -> ApplicationResult {
        if let answer = RoutineResult.answer(to: type, latest: routineResults[routine]) { return answer }
        let owedBefore = owedWrites
        switch routine {
        case .ownerChange:
            routineResults[routine] = .running
            routineWaits[routine] = .pp01
            logger.info("owner change: deleting [K], subject id and verifier; PP-01 runs again")
        case .ownerPairingStarted:
            let waits = !storeView.snapshot.flags.contains(.spake2PlusVerifierPresent)
            routineResults[routine] = waits ? .running : .done
            if waits { routineWaits[routine] = .pp03 }
            logger.info("owner pairing started (simulated)\(waits ? ": no SPAKE2+ verifier, PP-03" : "")")
        case .ownerPairingFailed:
            routineResults[routine] = .done
            logger.info("owner pairing attempt failed (simulated)")
        }
        handle(.routine(routine), now: now)
        return durableAnswer(routine, owedBefore: owedBefore)
    }

    /// Positive only when the store writes the routine caused are durable; else NRC 0x72 and
    /// the result "running" until they are (`owedBefore`: `owedWrites` before it ran).
    private func durableAnswer(_ routine: ProvisioningRoutine, owedBefore: Int) -> ApplicationResult {
        guard owedWrites > owedBefore else { return .positive([0x00]) }
        routineResults[routine] = .running
        owedRoutines.insert(routine)
        logger.warning("routine \(routine.identifier): its store write is owed, answered 0x72 until it is stored")
        return .negative(.generalProgrammingFailure)
    }
}
