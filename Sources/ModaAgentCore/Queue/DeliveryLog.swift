/// Writes the delivery log (docs/tracing.md) inside the transaction that removes the request's
/// events (`QueueWrite.markDelivered`, `.deadLetter`), so an entry exists exactly when the removal
/// committed: a crash between Moda's 2xx and the removal leaves the events queued and unlogged,
/// to be sent and logged again.
enum DeliveryLog {
    /// One entry row and a row per conversation piece; both statements prepared once per request.
    static func insert(_ record: DeliveryRecord, deadLetterID: Int64?, into db: SQLiteConnection) throws(QueueError) {
        let entry = try db.prepare(
            "INSERT INTO delivery_log (at, status, request_id, latency, message, dead_letter_id, bytes) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        entry.bind(1, record.at)
        entry.bind(2, Int64(record.status))
        entry.bind(3, record.requestId)
        if let latency = record.latency { entry.bind(4, latency) } else { entry.bind(4, nil as String?) }
        entry.bind(5, record.message)
        if let deadLetterID { entry.bind(6, deadLetterID) } else { entry.bind(6, nil as String?) }
        entry.bind(7, record.storedBytes)
        try entry.run()
        let id = db.lastInsertRowID
        let piece = try db.prepare(
            "INSERT OR REPLACE INTO delivery_log_ids (entry, first, last, conversation, runs) VALUES (?, ?, ?, ?, ?)"
        )
        for part in record.pieces {
            piece.bind(1, id)
            piece.bind(2, part.first)
            piece.bind(3, part.last)
            piece.bind(4, Int64(bitPattern: part.conversation))
            if let runs = part.runs {
                runs.withUnsafeBytes { piece.bindBlob(5, $0) }
            } else {
                piece.bind(5, nil as String?)
            }
            try piece.run()
        }
    }
}
