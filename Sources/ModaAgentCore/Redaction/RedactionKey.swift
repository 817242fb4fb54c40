import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The HMAC key of `action: hash`: the bytes of `hashKeyFile`, surrounding whitespace trimmed. The file must
/// be readable by its owner alone, since anyone with the key can test guesses against the tokens.
enum RedactionKey {
    static func load(path: String) throws(ConfigError) -> SymmetricKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .redactionKey(
                path: path,
                reason: "cannot be read (\(String(cString: strerror(errno)))); create it with a random key, "
                    + "e.g. `head -c 32 /dev/urandom | base64 > \(path) && chmod 600 \(path)`"
            )
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .redactionKey(
                path: path,
                reason: "is readable or writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "run `chmod 600 \(path)`"
            )
        }
        guard let handle = fopen(path, "rb") else {
            throw .redactionKey(
                path: path,
                reason: "cannot be opened (\(String(cString: strerror(errno)))); check its owner and permissions"
            )
        }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, handle)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > 1 << 20 { break }
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let trimmed = bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard !trimmed.isEmpty else {
            throw .redactionKey(path: path, reason: "is empty; write a random key into it")
        }
        return SymmetricKey(data: Array(trimmed))
    }
}
