// swift-tools-version:6.1
import PackageDescription

let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let cryptoExtras: Target.Dependency = .product(name: "CryptoExtras", package: "swift-crypto")
let x509: Target.Dependency = .product(name: "X509", package: "swift-certificates")
let asn1: Target.Dependency = .product(name: "SwiftASN1", package: "swift-asn1")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let jwtKit: Target.Dependency = .product(name: "JWTKit", package: "jwt-kit")
let mustache: Target.Dependency = .product(name: "Mustache", package: "swift-mustache")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let postgres: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")
let webSocketServer: Target.Dependency = .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")
let webSocketClient: Target.Dependency = .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
// The executables a test PC or a HIL rack runs (scripts/package) carry the Swift runtime and
// Foundation in release builds, since no Swift toolchain is there; debug builds link them dynamically.
// Compiled with the flag too: their objects then name every static library Foundation needs.
// Linked by lld with packed relative relocations (glibc >= 2.36) and no exported symbols: 2 MB
// less resident at start (scripts/bench memory).
let staticStdlib: [LinkerSetting] = [.unsafeFlags(["-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                                   "-Xlinker", "--no-export-dynamic"],
                                                  .when(platforms: [.linux], configuration: .release))]
let staticStdlibImports: [SwiftSetting] = [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))]

let package = Package(
    name: "spaak-sim",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spaak-ecu", targets: ["spaak-ecu"]),
        .executable(name: "spaak-pki", targets: ["spaak-pki"]),
        .executable(name: "spaak-cloud", targets: ["spaak-cloud"]),
        .executable(name: "spaak-phone", targets: ["spaak-phone"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
        // Hummingbird's own dependency, named for its graceful shutdown (ServiceGroup).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        // The VOS service's database for a fleet (PostgreSQL), and the TBM <-> VOS link (GSDP over WebSocket).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        // Their own dependency, named because GSDPTransport uses NIOCore's types (ByteBuffer, EventLoopGroup).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        // Shared value types.
        .target(name: "SpaakCore"),
        // Imperative shell: SocketCAN and the event loop.
        // libsocketcan (Debian libsocketcan-dev; runtime libsocketcan2): CAN controller state and setup.
        .target(name: "CSocketCAN", linkerSettings: [.linkedLibrary("socketcan")]),
        .target(name: "SocketCAN", dependencies: ["CSocketCAN", "SpaakCore", "CanSM"]),
        // CanSM: the CAN controller's state, error frames, bus-off recovery (pure).
        .target(name: "CanSM", dependencies: ["SpaakCore"]),
        .target(name: "EventLoop", dependencies: ["CSocketCAN", "SpaakCore"]),
        // MADV_RANDOM on the executable's read-only mappings at start: no fault-around (spaak-ecu's resident memory).
        .target(name: "CResidentMemory"),
        // Functional core: protocol layers.
        .target(name: "E2E", dependencies: ["SpaakCore"]),
        .target(name: "ISOTP", dependencies: ["SpaakCore"]),
        .target(name: "UDS", dependencies: ["SpaakCore"]),
        .target(name: "KeyM", dependencies: [x509, crypto, asn1]),
        .target(name: "SecureStore", dependencies: ["SpaakCore", crypto, x509, asn1, logging]),
        .target(name: "CloudProtocol", dependencies: ["SpaakCore", crypto, cryptoExtras]),
        .target(name: "Provisioning", dependencies: ["SpaakCore", "CloudProtocol"]),
        // SPAKE2+ (RFC 9383) for owner pairing (ICD 8.4): P-256 point arithmetic from OpenSSL's
        // libcrypto (Debian libssl-dev, through pkg-config), the rest with swift-crypto.
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "SPAKE2Plus", dependencies: ["CLibCrypto", crypto]),
        // The APDU channel of owner pairing (ICD 8.3): ISO 7816-4 APDUs, BER-TLV, the pairing commands.
        .target(name: "APDU"),
        // Owner pairing on the module's side (ICD 8): window, phase 2/3 sessions, reports.
        .target(name: "OwnerPairing", dependencies: ["APDU", "SPAKE2Plus", "CloudProtocol", "SpaakCore", crypto]),
        // The module.
        .target(name: "SpaakECU", dependencies: ["SpaakCore", "CanSM", "EventLoop", "E2E", "ISOTP", "UDS", "KeyM", "SecureStore", "CloudProtocol",
                                                "Provisioning", "OwnerPairing", "APDU", crypto, cryptoExtras, logging]),
        .executableTarget(name: "spaak-ecu", dependencies: ["SpaakECU", "SocketCAN", "CanSM", "EventLoop", "CResidentMemory", argumentParser, logging],
                          swiftSettings: staticStdlibImports, linkerSettings: staticStdlib),
        // The simulated OEM PKI.
        .target(name: "TestPKI", dependencies: [x509, crypto, asn1]),
        .executableTarget(name: "spaak-pki", dependencies: ["TestPKI", argumentParser], swiftSettings: staticStdlibImports, linkerSettings: staticStdlib),
        // The TBM and the Vehicle OEM Server (with the KTS), simulated.
        .target(name: "CloudSimulator",
                dependencies: ["SpaakCore", "E2E", "ISOTP", "CloudProtocol", "TestPKI", "GSDP", x509, asn1, crypto, grdb]),
        // The VOS's owner services (OP-01a/b): pairing password lifecycle, deep links, owner
        // binding, hotline requests, the mail outbox; pure over the VOS repository.
        .target(name: "OwnerServices", dependencies: ["CloudSimulator", "CloudProtocol", "SpaakCore", crypto]),
        // Their HTTP side (the TBE): Hummingbird routes, bearer tokens (JWT ES256), problem
        // documents, the OpenAPI document, the customer portal pages.
        .target(name: "OwnerAPI", dependencies: ["OwnerServices", "CloudSimulator", "SpaakCore", "EventLoop", hummingbird, jwtKit, mustache, serviceLifecycle, crypto],
                resources: [.copy("Resources")]),
        // GSDP, the TBM <-> VOS link (pure): the control messages beside the ICD 7 messages, the TBM's reconnection back-off.
        .target(name: "GSDP", dependencies: ["SpaakCore", crypto]),
        // GSDP over WebSocket (NIO threads): the VOS's endpoint (Hummingbird) and the TBM's reconnecting client.
        .target(name: "GSDPTransport", dependencies: ["GSDP", "SpaakCore", "EventLoop", hummingbird, webSocketServer, webSocketClient, serviceLifecycle, logging,
                                                      nioCore]),
        // The VOS's repository on PostgreSQL (a fleet, several VOS instances): migrations, serializable
        // transactions, the C2V outbox, LISTEN/NOTIFY.
        .target(name: "CloudPostgres", dependencies: ["CloudSimulator", "SpaakCore", postgres, logging]),
        .executableTarget(name: "spaak-cloud",
                          dependencies: ["CloudSimulator", "OwnerServices", "OwnerAPI", "SpaakCore", "SocketCAN", "CanSM", "EventLoop",
                                         "CSocketCAN", "GSDP", "GSDPTransport", "CloudPostgres", argumentParser],
                          swiftSettings: staticStdlibImports, linkerSettings: staticStdlib),
        // The NFC reader and the owner's phone, simulated (ICD 8): the device's answers and the taps
        // as pure machines, and the executable around them.
        .target(name: "PhoneSimulator", dependencies: ["APDU", "SPAKE2Plus", "CloudProtocol", "KeyM", "E2E", "ISOTP", "SpaakCore",
                                                       crypto, asn1]),
        .executableTarget(name: "spaak-phone", dependencies: ["PhoneSimulator", "E2E", "SocketCAN", "EventLoop", "SpaakCore", "KeyM",
                                                              "TestPKI", argumentParser],
                          swiftSettings: staticStdlibImports, linkerSettings: staticStdlib),

        // Fuzz harnesses and the crash soak (docs/RELIABILITY.md section 5; scripts/fuzz, scripts/soak).
        .target(name: "SpaakFuzz", dependencies: ["SpaakCore", "ISOTP", "UDS", "KeyM", "SecureStore", "CloudProtocol",
                                                  "SpaakECU", "TestPKI", "E2E", "APDU", "OwnerPairing", "SPAKE2Plus",
                                                  crypto, x509, asn1, logging]),
        .executableTarget(name: "spaak-fuzz", dependencies: ["SpaakFuzz"]),
        .executableTarget(name: "spaak-soak", dependencies: ["SpaakFuzz", "SpaakECU", "SecureStore", "SpaakCore", "CloudSimulator",
                                                             "ISOTP", "SocketCAN", "CSocketCAN", "EventLoop",
                                                             "CloudProtocol", "TestPKI", crypto, logging]),

        .testTarget(name: "SpaakCoreTests", dependencies: ["SpaakCore"]),
        .testTarget(name: "CanSMTests", dependencies: ["CanSM", "SpaakCore"]),
        .testTarget(name: "SocketCANTests", dependencies: ["SocketCAN", "CSocketCAN", "SpaakCore"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "CSocketCAN", "SpaakCore"]),
        .testTarget(name: "E2ETests", dependencies: ["E2E", "SpaakCore"]),
        .testTarget(name: "ISOTPTests", dependencies: ["ISOTP", "SpaakCore"]),
        .testTarget(name: "UDSTests", dependencies: ["UDS", "SpaakCore"]),
        .testTarget(name: "SpaakECUTests", dependencies: ["SpaakECU", "SpaakCore", "E2E", "SecureStore", "KeyM", "TestPKI",
                                                         "UDS", "ISOTP", "CloudProtocol", "CloudSimulator", "APDU", "SPAKE2Plus", "OwnerPairing",
                                                         crypto, x509, asn1, logging]),
        .testTarget(name: "SecureStoreTests", dependencies: ["SecureStore", "SpaakCore", crypto, x509, asn1, logging]),
        .testTarget(name: "CloudProtocolTests", dependencies: ["CloudProtocol", "SpaakCore", crypto]),
        .testTarget(name: "APDUTests", dependencies: ["APDU"]),
        .testTarget(name: "OwnerPairingTests", dependencies: ["OwnerPairing", "APDU", "SPAKE2Plus", "CloudProtocol", "SpaakCore", crypto]),
        .testTarget(name: "SPAKE2PlusTests", dependencies: ["SPAKE2Plus", "CloudProtocol", "SpaakCore", crypto]),
        .testTarget(name: "ProvisioningTests", dependencies: ["Provisioning", "CloudProtocol", "SpaakCore", crypto]),
        .testTarget(name: "CloudSimulatorTests",
                    dependencies: ["CloudSimulator", "CloudProtocol", "Provisioning", "SpaakCore", "E2E", "ISOTP", "TestPKI", "GSDP", x509, crypto]),
        .testTarget(name: "GSDPTests", dependencies: ["GSDP", "GSDPTransport", "SpaakCore", hummingbird, webSocketServer, webSocketClient,
                                                    serviceLifecycle, logging, nioCore]),
        .testTarget(name: "CloudPostgresTests", dependencies: ["CloudPostgres", "CloudSimulator", "CloudProtocol", "TestPKI", "SpaakCore", crypto]),
        .testTarget(name: "OwnerServicesTests", dependencies: ["OwnerServices", "CloudSimulator", "CloudProtocol", "TestPKI", "SpaakCore", crypto]),
        .testTarget(name: "OwnerAPITests", dependencies: ["OwnerAPI", "OwnerServices", "CloudSimulator", "SpaakCore", jwtKit, crypto]),
        .testTarget(name: "KeyMTests", dependencies: ["KeyM", "TestPKI"]),
        .testTarget(name: "TestPKITests", dependencies: ["TestPKI", "KeyM"]),
        .testTarget(name: "SpaakFuzzTests", dependencies: ["SpaakFuzz"]),
        .testTarget(name: "PhoneSimulatorTests", dependencies: ["PhoneSimulator", "OwnerPairing", "APDU", "SPAKE2Plus", "CloudProtocol",
                                                               "E2E", "ISOTP", "KeyM", "TestPKI", "SpaakCore", crypto, x509]),
    ]
)
