import ModaAgentCore
import Testing

/// modactl's advice on starting or reloading the daemon follows how the machine runs it: in a container there is no
/// `systemctl` (docs/containers.md).
@Suite("how to start the daemon")
struct StartHintTests {
    @Test("systemd host, container, neither: each its own way to start and to reload")
    func phrasing() {
        #expect(StartHint.start(on: .systemd) == "`systemctl start moda-agent`")
        #expect(StartHint.reload(on: .systemd) == "`systemctl reload moda-agent`")
        #expect(StartHint.start(on: .container).hasPrefix("the moda-agent container"))
        #expect(StartHint.reload(on: .container).contains("--signal HUP"))
        #expect(StartHint.start(on: .plain) == "`moda-agent --config PATH`")
        #expect(StartHint.reload(on: .plain) == "`kill -HUP` on the daemon")
        for host in [StartHint.Host.container, .plain] {
            #expect(!StartHint.start(on: host).contains("systemctl") && !StartHint.reload(on: host).contains("systemctl"))
        }
    }
}
