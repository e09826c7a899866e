// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "spaak-sim",
    platforms: [.macOS(.v15)],
    products: [],
    dependencies: [],
    targets: [
        .target(name: "SpaakCore"),
        .testTarget(name: "SpaakCoreTests", dependencies: ["SpaakCore"]),
    ]
)
