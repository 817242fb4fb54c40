/// The exit codes both programs share (docs/operating.md), from sysexits.h where one fits.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 2
    /// EX_TEMPFAIL: another daemon owns the queue or the socket.
    public static let alreadyRunning: Int32 = 75
    /// EX_CONFIG.
    public static let configuration: Int32 = 78
}
