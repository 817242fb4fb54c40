#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A memfd holding bytes that can no longer change (memfd_create(2), sealed with `F_ADD_SEALS`): what journald
/// accepts in place of a datagram too large to send, since nobody can alter a sealed file under it.
enum SealedMemoryFile {
    /// A new close-on-exec memfd holding `contents`, sealed; the caller closes it.
    static func make(name: String, contents: [UInt8]) throws(SystemdSocketError) -> CInt {
        guard let create = Self.memfdCreate else { throw .systemCall("memfd_create", errno: ENOSYS) }
        let fd = create(name, Self.closeOnExec | Self.allowSealing)
        guard fd >= 0 else { throw .systemCall("memfd_create", errno: errno) }
        let code = Self.writeAll(contents, to: fd)
        guard code == 0 else {
            close(fd)
            throw .systemCall("write(memfd)", errno: code)
        }
        guard fcntl(fd, Self.addSeals, Self.sealShrink | Self.sealGrow | Self.sealWrite | Self.sealSeal) == 0 else {
            let code = errno
            close(fd)
            throw .systemCall("fcntl(memfd, F_ADD_SEALS)", errno: code)
        }
        return fd
    }

    /// 0, or the errno of the write that failed.
    private static func writeAll(_ contents: [UInt8], to fd: CInt) -> CInt {
        contents.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let count = write(fd, bytes.baseAddress.map { $0 + written }, bytes.count - written)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return count < 0 ? errno : EIO }
                written += count
            }
            return 0
        }
    }

    // Glibc declares memfd_create and the sealing constants only under _GNU_SOURCE, which Swift's Glibc module is
    // not built with. The values are the kernel's ABI (linux/memfd.h, linux/fcntl.h); the function is looked up
    // once in the C library (glibc 2.27 and later have it).
    private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>?, CUnsignedInt) -> CInt
    private static let memfdCreate: MemfdCreate? = dlsym(nil, "memfd_create").map {
        unsafeBitCast($0, to: MemfdCreate.self)
    }
    private static let closeOnExec: CUnsignedInt = 0x1  // MFD_CLOEXEC
    private static let allowSealing: CUnsignedInt = 0x2  // MFD_ALLOW_SEALING
    static let addSeals: CInt = 1033  // F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
    static let getSeals: CInt = 1034  // F_GET_SEALS
    static let sealSeal: CInt = 0x1  // F_SEAL_SEAL
    static let sealShrink: CInt = 0x2  // F_SEAL_SHRINK
    static let sealGrow: CInt = 0x4  // F_SEAL_GROW
    static let sealWrite: CInt = 0x8  // F_SEAL_WRITE
}
