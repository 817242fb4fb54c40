import Foundation
import ModaAgentTestSupport
import Testing

/// The package ships one binary: `modactl` is a link to `moda-agent`, which dispatches on the name it is called by.
///
/// The shipped programs stay without full Foundation: it brings CoreFoundation's start-up work and about 30 MB of
/// ICU data that nothing uses, paid in every binary and in the resident memory of every host. Only
/// FoundationEssentials may be linked. A stray `import Foundation` in ModaAgentCore, moda-agent or modactl
/// shows up here in the debug build the tests run against (a shared libFoundation.so), and in the static
/// release build of `make test` (Foundation's own type descriptors).
@Suite
struct FootprintTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ModaAgentCoreTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
    static let releaseDirectory = packageRoot.appendingPathComponent(".build-release/release").path
    static let shipped = ["moda-agent", "modactl"]
    /// The release build's tests run once `make test` has made it.
    static let releaseBuilt = ConditionTrait.enabled(
        if: FileManager.default.fileExists(atPath: "\(releaseDirectory)/moda-agent"),
        "no release build in .build-release (make test builds one)"
    )

    /// Byte strings each found only when Foundation proper is linked: its module's name as Swift
    /// metadata stores it, its shared library, FoundationInternationalization and the ICU data.
    static let markers: [(String, [UInt8])] = [
        ("the Foundation module", Array("\0Foundation\0".utf8)),
        ("libFoundation.so", Array("libFoundation.so\0".utf8)),
        ("FoundationInternationalization", Array("FoundationInternationalization\0".utf8)),
        ("ICU data", Array("icudt".utf8)),
    ]

    static func foundationMarkers(in path: String) throws -> [String] {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return markers.filter { bytes.range(of: Data($0.1)) != nil }.map(\.0)
    }

    @Test("the debug programs the tests run load no Foundation beyond FoundationEssentials")
    func debugBinaries() throws {
        for name in Self.shipped {
            let path = "\(BuiltProducts.directory)/\(name)"
            try #require(FileManager.default.fileExists(atPath: path), "\(path) missing: run swift build first")
            #expect(try Self.foundationMarkers(in: path) == [], "\(name) links full Foundation")
        }
    }

    @Test(
        "the static release programs contain no Foundation, CoreFoundation or ICU",
        FootprintTests.releaseBuilt
    )
    func releaseBinaries() throws {
        for name in Self.shipped {
            let path = "\(Self.releaseDirectory)/\(name)"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            #expect(try Self.foundationMarkers(in: path) == [], "\(name) links full Foundation")
        }
    }

    /// Start-up and idle code gathered in one place (Makefile, packaging/link/hot-text.ld): without it, each fault on
    /// code maps the 64 KiB around it and an idle daemon keeps about 10 MiB of a program it runs 1 MiB of. The
    /// linker ignores patterns that match nothing, so a renamed object or scratch folder would silently undo it.
    @Test(
        "the release program runs its start-up from the gathered hot code section",
        FootprintTests.releaseBuilt
    )
    func hotTextGathered() async throws {
        let path = "\(Self.releaseDirectory)/moda-agent"
        let sections = try await CommandRunner.run("/usr/bin/readelf", ["-S", "-W", path]).stdout
        let hot = try #require(
            sections.split(separator: "\n").first { $0.contains(" .text.hot ") },
            "\(path) has no .text.hot section: is packaging/link/hot-text.ld passed to the linker?"
        )
        let fields = hot.split(separator: " ", omittingEmptySubsequences: true)
        let name = try #require(fields.firstIndex(of: ".text.hot"))
        let start = try #require(UInt64(fields[name + 2], radix: 16))
        let size = try #require(UInt64(fields[name + 4], radix: 16))
        #expect(size > 2 << 20, "only \(size) bytes gathered: regenerate the list with make hot-text")
        // The daemon's entry point and the runtime's conformance lookup run first at every start.
        let symbols = try await CommandRunner.run("/usr/bin/nm", ["--defined-only", path]).stdout
        for wanted in ["main", "swift_conformsToProtocol"] {
            let line = symbols.split(separator: "\n").first { $0.hasSuffix(" \(wanted)") }
            let address = try #require(
                line.flatMap { UInt64($0.prefix(while: { $0 != " " }), radix: 16) },
                "\(wanted) not in \(path)"
            )
            #expect((start..<start + size).contains(address), "\(wanted) lies outside .text.hot")
        }
    }

    /// What a fleet pays per host at rest: the release daemon, as the package installs it, with the HTTP receivers and
    /// metrics listening (the example config's settings), one client connected, left alone for 2 s (the settle time
    /// is part of the measure, as in moda-bench's memory scenario). Median of 3 fresh starts.
    @Test(
        "the idle release daemon stays within 15 MiB resident",
        FootprintTests.releaseBuilt
    )
    func idleResidentMemory() async throws {
        var samples: [(rss: Int, anonymous: Int, file: Int)] = []
        for _ in 0..<3 {
            let agent = try AgentProcess(overrides: [
                "http": ["listen": "127.0.0.1:0"], "monitoring": ["listen": "127.0.0.1:0"],
            ])
            agent.executable = "\(Self.releaseDirectory)/moda-agent"
            do {
                try await agent.start()
                let client = try agent.client()
                try await Task.sleep(for: .seconds(2))
                let kib = try #require(ProcessMemory.kibibytes(pid: agent.pid), "no /proc status for the daemon")
                samples.append((kib["VmRSS"] ?? -1, kib["RssAnon"] ?? -1, kib["RssFile"] ?? -1))
                // Not under systemd: libsystemd is never loaded (Sources/CSystemd loads it on first use).
                let maps = (try? String(contentsOfFile: "/proc/\(agent.pid)/maps", encoding: .utf8)) ?? ""
                #expect(maps.contains("moda-agent"), "no maps read for \(agent.pid)")
                #expect(!maps.contains("libsystemd"), "libsystemd loaded outside systemd")
                withExtendedLifetime(client) {}
                #expect(await agent.stop() == 0, "\(agent.log())")
            } catch {
                await agent.cleanUp()
                throw error
            }
            await agent.cleanUp()
        }
        let median = samples.sorted { $0.rss < $1.rss }[1]
        let mib = { (kib: Int) in String(format: "%.1f MiB", Double(kib) / 1024) }
        #expect(
            median.rss <= 15 * 1024,
            "idle VmRSS \(mib(median.rss)) (RssAnon \(mib(median.anonymous)), RssFile \(mib(median.file))): see the README, Where idle memory goes"
        )
    }

    /// The package's size limits: each shipped program at most 40 MB stripped, the package at most 20 MB.
    @Test(
        "the stripped release program is at most 40 MB and the package at most 20 MB",
        FootprintTests.releaseBuilt
    )
    func packageSizes() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let stripped = directory.file("moda-agent")
        let strip = try await CommandRunner.run("/usr/bin/strip", ["-o", stripped, "\(Self.releaseDirectory)/moda-agent"])
        try #require(strip.status == 0, "strip failed: \(strip.stderr)")
        let programSize = try #require(try FileManager.default.attributesOfItem(atPath: stripped)[.size] as? Int)
        #expect(programSize <= 40_000_000, "moda-agent is \(programSize) bytes stripped")
        if let deb = ProcessInfo.processInfo.environment["MODA_TEST_DEB"] {
            let debSize = try #require(try FileManager.default.attributesOfItem(atPath: deb)[.size] as? Int)
            #expect(debSize <= 20_000_000, "\(deb) is \(debSize) bytes")
        }
    }

    /// Each shared library costs resident pages at every start (its relocations, symbol lookups, constructors):
    /// the release program loads only these. libstdc++ is linked statically (packaging/link/static-libstdc++);
    /// libz, asked for by swift-nio-extras, which bundles its own zlib, is dropped by the linker's --as-needed
    /// (packaging/link/ld.lld-as-needed): it cost 84 KiB and a zlib1g dependency. libsystemd, with libcap,
    /// libgcrypt, libgpg-error, lzma, zstd and lz4 behind it, is loaded with dlopen only under systemd
    /// (Sources/CSystemd): 1.4 MB of the container image, which has no systemd to talk to.
    @Test(
        "the release program loads only libc, libm, libgcc_s and SQLite; libsystemd is loaded only under systemd",
        FootprintTests.releaseBuilt
    )
    func releaseSharedLibraries() async throws {
        let program = "\(Self.releaseDirectory)/moda-agent"
        let dynamic = try await CommandRunner.run("/usr/bin/readelf", ["-d", program])
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line in
            line.split(separator: "[").last.map { String($0.dropLast()) }
        }
        let direct: Set = ["libc.so.6", "libm.so.6", "libgcc_s.so.1", "libsqlite3.so.0", "ld-linux-x86-64.so.2"]
        #expect(needed.contains("libsqlite3.so.0"), "no NEEDED entries read: \(dynamic.stdout)")
        #expect(Set(needed).subtracting(direct).isEmpty, "unexpected shared libraries: \(needed)")
        #expect(!needed.contains("libz.so.1"), "libz is asked for but never called: the link drops it")
        // Vectorscan (redaction's patterns) is linked from its archive (packaging/link/ld.lld-as-needed): the
        // shared libhs is 9 MB and would load the shared libstdc++ too.
        #expect(!needed.contains("libhs.so.5"), "the release link should take libhs.a")
        // Everything loaded at start, as the dynamic loader resolves it.
        let loaded = try await CommandRunner.run("/usr/bin/ldd", [program])
        let names = loaded.stdout.split(separator: "\n").compactMap { line in
            line.split(whereSeparator: \.isWhitespace).first.map { String($0.split(separator: "/").last ?? $0) }
        }
        #expect(names.contains("libsqlite3.so.0"), "no libraries read: \(loaded.stdout)")
        #expect(
            Set(names).subtracting(direct).subtracting(["linux-vdso.so.1"]).isEmpty,
            "unexpected shared libraries: \(names)"
        )
        // The name dlopen asks for is in the program, so `strings` shows what it may load.
        let binary = try Data(contentsOf: URL(fileURLWithPath: program))
        #expect(binary.range(of: Data("libsystemd.so.0".utf8)) != nil, "the dlopen name is missing")
    }

    /// The check itself must see Foundation where it is: moda-bench (not shipped) links it.
    @Test("the markers find Foundation in a program that links it")
    func markersFindFoundation() throws {
        let bench = "\(BuiltProducts.directory)/moda-bench"
        try #require(FileManager.default.fileExists(atPath: bench), "\(bench) missing: run swift build first")
        #expect(try Self.foundationMarkers(in: bench).contains("the Foundation module"))
    }

    @Test("moda-agent called by the name modactl is modactl, as the package installs it")
    func modactlIsASecondName() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let link = directory.file("modactl")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: BuiltProducts.agent)
        let help = try await CommandRunner.run(link, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: modactl"), "\(help.stdout)")
        #expect(help.stdout.contains("dead-letters"))
        let usage = try await CommandRunner.run(link, ["status", "--no-such-flag"])
        #expect(usage.status == 2, "usage errors exit 2, as modactl's do: \(usage.stderr)")
        let daemon = try await CommandRunner.run(BuiltProducts.agent, ["--help"])
        #expect(daemon.stdout.contains("USAGE: moda-agent"), "\(daemon.stdout)")
    }
}
