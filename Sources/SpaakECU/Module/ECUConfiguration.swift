import SpaakCore

/// Everything that identifies one simulated SpaaK module and its place on the bus.
///
/// The defaults are the ICD's (section 2): other tools and tests rely on them.
public struct ECUConfiguration: Sendable {
    /// ECU serial number (DID 0xF18C, CN of the ECU identity CSR).
    public var serial: String
    /// Vehicle identification number given at start (DID 0xF190); `nil` until written.
    public var vin: String?
    /// Software version (DID 0xF195).
    public var softwareVersion: String
    /// CAN identifiers of the ICD, section 2.
    public var ids: CANIdentifiers
    /// Use CAN FD frames (64 bytes) on the ISO-TP channels.
    public var canFD: Bool
    /// Block size the module asks for in its flow control frames.
    public var blockSize: UInt8
    /// STmin the module asks for in its flow control frames (ISO 15765-2 encoding).
    public var separationTime: UInt8
    /// Period of `SPAAK_Status`.
    public var statusPeriod: Duration
    /// Simulated latency of the secure element for key generation and signing; a value
    /// above P2 (50 ms) makes key generation answer NRC 0x78 first.
    public var hsmLatency: Duration
    /// K_plant, the AES-128 key of the security access (ICD 5.3).
    public var plantKey: [UInt8]

    /// The ICD's default plant key: `000102030405060708090a0b0c0d0e0f`.
    public static let defaultPlantKey: [UInt8] = Array(0...15)

    /// Creates a configuration with the ICD's defaults.
    public init(serial: String, vin: String? = nil, softwareVersion: String = ECUConfiguration.currentSoftwareVersion,
                ids: CANIdentifiers = CANIdentifiers(), canFD: Bool = false, blockSize: UInt8 = 0,
                separationTime: UInt8 = 0, statusPeriod: Duration = .milliseconds(100),
                hsmLatency: Duration = .zero, plantKey: [UInt8] = ECUConfiguration.defaultPlantKey) {
        self.serial = serial
        self.vin = vin
        self.softwareVersion = softwareVersion
        self.ids = ids
        self.canFD = canFD
        self.blockSize = blockSize
        self.separationTime = separationTime
        self.statusPeriod = statusPeriod
        self.hsmLatency = hsmLatency
        self.plantKey = plantKey
    }

    /// The version this build reports in DID 0xF195.
    public static let currentSoftwareVersion = "spaak-sim 0.1.0"
}

/// The CAN identifiers of one module (ICD section 2).
public struct CANIdentifiers: Sendable, Equatable {
    /// `TBM_Status`, received.
    public var tbmStatus: UInt32 = 0x3A0
    /// `SPAAK_Status`, sent.
    public var spaakStatus: UInt32 = 0x3A8
    /// ISO-TP vehicle-to-cloud, sent to the TBM.
    public var v2c: UInt32 = 0x6A0
    /// ISO-TP cloud-to-vehicle, received from the TBM.
    public var c2v: UInt32 = 0x6A8
    /// UDS physical requests, received.
    public var udsRequest: UInt32 = 0x7A0
    /// UDS responses, sent; the request id + 8 unless configured otherwise.
    public var udsResponse: UInt32 = 0x7A8
    /// UDS functional requests (single frames), received.
    public var udsFunctional: UInt32 = 0x7DF
    /// `NFC_Status` of the NFC reader, received (ICD 8.1).
    public var nfcStatus: UInt32 = 0x3B0
    /// `HU_Request` of the head unit, received (ICD 8.1).
    public var huRequest: UInt32 = 0x3C0
    /// ISO-TP command APDUs to the device, sent (ICD 8.3).
    public var apduCommand: UInt32 = 0x6B0
    /// ISO-TP response APDUs from the device, received (ICD 8.3).
    public var apduResponse: UInt32 = 0x6B8

    /// The ICD defaults.
    public init() {}

    /// Every identifier the module receives on.
    public var received: [UInt32] { [tbmStatus, c2v, udsRequest, udsFunctional, nfcStatus, huRequest, apduResponse] }
}
