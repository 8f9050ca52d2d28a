import BhattiDaemon

/// Sample counts for the thermal rows (flags of bhatti-bench; run.sh passes them from the environment).
struct ThermalOptions {
    var cycles = 200
    var warmWakes = 50
    var coldWakes = 10
    var fleet = 20
    var fleetRounds = 3
    /// Creates from a template snapshot (a second daemon with templates on).
    var templateCreates = 10
    /// Only the thermal rows (while working on them).
    var only = false

    var enabled: Bool { cycles > 0 || warmWakes > 0 || coldWakes > 0 || fleet > 0 || templateCreates > 0 }

    func bench(_ daemon: Daemon, _ api: BenchAPI) -> ThermalBench {
        ThermalBench(
            daemon: daemon, api: api, cycles: cycles, warmWakes: warmWakes, coldWakes: coldWakes, fleet: fleet, fleetRounds: fleetRounds,
            templateCreates: templateCreates)
    }
}
