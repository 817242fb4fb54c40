import ArgumentParser
import ModaAgentCore

struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List, show, replay or purge events and trace exports Moda refused.",
        subcommands: [List.self, Show.self, Replay.self, Purge.self]
    )

    /// `command` names the subcommand for the message that asks a root user to run it as the owner.
    static func open(_ access: QueueStore.OperatorAccess, command: String) throws -> DeadLetterAdmin {
        let config = try GlobalOptions.loadConfig()
        do {
            if access == .readWrite {
                try QueueOwner.actAsOwner(of: config.queue.path, command: "dead-letters \(command)")
            }
            return try DeadLetterAdmin(queuePath: config.queue.path, access: access)
        } catch let refusal as QueueOwner.Refusal {
            fail(refusal.description)
        } catch {
            fail("\(error)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead letters, oldest first.")

        @Flag(help: "Print a JSON array.") var json = false
        @Option(help: "Show at most N.") var limit: Int?

        func run() throws {
            let admin = try DeadLetters.open(.readOnly, command: "list")
            defer { admin.close() }
            let letters: [DeadLetter]
            do { letters = try admin.list(limit: limit) } catch { fail(error.description) }
            if json {
                printJSON(.array(letters.map(\.listJSON)))
                return
            }
            if letters.isEmpty {
                print("no dead letters")
                return
            }
            print(
                "ID".padded(6) + "KIND".padded(7) + "TIME".padded(26) + "STATUS".padded(8) + "CONVERSATION".padded(20)
                    + "ERROR / PREVIEW"
            )
            for letter in letters {
                print(
                    String(letter.id).padded(6) + letter.kind.rawValue.padded(7)
                        + Timestamp.iso8601(letter.deadAt).padded(26)
                        + String(letter.status).padded(8) + (letter.conversationId ?? "-").clipped(19).padded(20)
                        + letter.error.clipped(60)
                )
                if let preview = letter.preview {
                    print(String(repeating: " ", count: 67) + "“" + preview.clipped(60) + "”")
                }
            }
            print(
                "\n\(letters.count) shown; `modactl dead-letters show ID` for details, `modactl dead-letters replay --all` to retry"
            )
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The event or trace export and everything known about its failure."
        )

        @Argument(help: "Dead letter id.") var id: Int64

        func run() throws {
            let admin = try DeadLetters.open(.readOnly, command: "show")
            defer { admin.close() }
            let found: DeadLetter?
            do { found = try admin.find(id) } catch { fail(error.description) }
            guard let letter = found else {
                fail("no dead letter with id \(id); `modactl dead-letters list` shows the ids")
            }
            printJSON(letter.detailJSON)
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move dead letters back to the queue, for delivery in their original order."
        )

        @Flag(help: "Replay every dead letter.") var all = false
        @Argument(help: "Dead letter ids.") var ids: [Int64] = []

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give either --all or one or more ids") }
        }

        func run() throws {
            let admin = try DeadLetters.open(.readWrite, command: "replay")
            defer { admin.close() }
            do {
                if !ids.isEmpty {
                    let missing = try admin.missing(ids)
                    guard missing.isEmpty else {
                        fail(
                            "no dead letter with id \(missing.map(String.init).joined(separator: ", ")); nothing replayed"
                        )
                    }
                }
                let moved = try admin.replayCounts(ids: all ? nil : ids)
                var parts = ["\(moved.events) \(moved.events == 1 ? "event" : "events")"]
                if moved.traces > 0 {
                    parts.append("\(moved.traces) trace \(moved.traces == 1 ? "export" : "exports")")
                }
                print("replayed \(parts.joined(separator: " and ")) into the queue")
            } catch {
                fail(error.description)
            }
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters for good.")

        @Flag(help: "Delete every dead letter.") var all = false
        @Option(help: "Delete those dead-lettered longer ago than DURATION (30s, 15m, 12h, 7d).")
        var olderThan: String?
        @Argument(help: "Dead letter ids.") var ids: [Int64] = []

        func validate() throws {
            let modes = (all ? 1 : 0) + (olderThan == nil ? 0 : 1) + (ids.isEmpty ? 0 : 1)
            guard modes == 1 else { throw ValidationError("give exactly one of --all, --older-than DURATION, or ids") }
            if let olderThan, Durations.parse(olderThan) == nil {
                throw ValidationError("--older-than \(olderThan): use a duration like 30s, 15m, 12h or 7d")
            }
        }

        func run() throws {
            let admin = try DeadLetters.open(.readWrite, command: "purge")
            defer { admin.close() }
            do {
                let removed: Int
                if let olderThan, let seconds = Durations.parse(olderThan) {
                    removed = try admin.purge(ids: nil, deadBefore: Timestamp.now() - seconds)
                } else {
                    if !ids.isEmpty {
                        let missing = try admin.missing(ids)
                        guard missing.isEmpty else {
                            fail(
                                "no dead letter with id \(missing.map(String.init).joined(separator: ", ")); nothing purged"
                            )
                        }
                    }
                    removed = try admin.purge(ids: all ? nil : ids)
                }
                print("purged \(removed) dead \(removed == 1 ? "letter" : "letters")")
            } catch {
                fail(error.description)
            }
        }
    }
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
    func clipped(_ width: Int) -> String { count > width ? String(prefix(width - 1)) + "…" : self }
}
