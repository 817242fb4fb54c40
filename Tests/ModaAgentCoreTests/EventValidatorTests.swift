import Foundation
import Testing

@testable import ModaAgentCore

/// The event shapes of moda-ingest-api.md: every documented example is accepted, and every rule the
/// field tables imply is enforced with a message naming the event index and the field.
@Suite struct EventValidatorTests {
    typealias F = ValidatorFixtures

    // MARK: Documented examples (copied from moda-ingest-api.md)

    static let documentedExamples: [(name: String, line: String, count: Int)] = [
        (
            "standard envelope",
            """
            {"events": [{"conversation_id": "conv-123", "role": "user", "message": "What is the capital of France?", \
            "timestamp": "2024-01-15T10:30:00Z"}, {"conversation_id": "conv-123", "role": "assistant", \
            "message": "The capital of France is Paris.", "timestamp": "2024-01-15T10:30:01Z", "input_tokens": 12, \
            "output_tokens": 8, "model": "gpt-4o", "provider": "openai"}]}
            """, 2
        ),
        (
            "tool use",
            """
            {"events": [{"conversation_id": "conv-123", "role": "assistant", "message": "Let me search for that.", \
            "content_blocks": [{"type": "text", "text": "Let me search for that."}, {"type": "tool_use", \
            "tool_name": "web_search", "tool_use_id": "toolu_abc", "input": {"query": "latest news"}}]}]}
            """, 1
        ),
        (
            "extended thinking",
            """
            {"events": [{"conversation_id": "conv-123", "role": "assistant", "message": "The answer is 42.", \
            "reasoning_tokens": 150, "output_tokens": 10, "content_blocks": [{"type": "thinking", \
            "text": "Let me think through this step by step..."}, {"type": "text", "text": "The answer is 42."}]}]}
            """, 1
        ),
        (
            "channel",
            """
            {"messageType": "channel", "id": "msg-123", "conversationId": "thread-456", \
            "message": "Hello, how can I help you today?", "role": "assistant", "userId": "user-789", \
            "timestamp": "2025-01-04T12:00:00Z"}
            """, 1
        ),
        (
            "tool_call",
            """
            {"messageType": "tool_call", "id": "tool-123", "conversationId": "thread-456", \
            "name": "search_knowledge_base", "toolCallRequest": {"query": "refund policy", "limit": 5}, \
            "toolCallResponse": {"results": [{"title": "Refund Policy", "content": "..."}]}}
            """, 1
        ),
        (
            "email",
            """
            {"messageType": "email", "id": "email-123", "conversationId": "conv-456", "role": "user", \
            "subject": "Re: Order #12345 - Shipping question", \
            "body": "Thank you for reaching out. Your order is scheduled to arrive...", \
            "inReplyTo": "parent-email-message-id", "from": "support@example.com", "to": ["customer@example.com"]}
            """, 1
        ),
        (
            "call",
            """
            {"messageType": "call", "id": "call-123", "conversationId": "call-session-456", "transcript": [\
            {"role": "user", "content": "Hi, I'm having trouble with my account."}, {"role": "assistant", \
            "content": "I'd be happy to help. Can you tell me more about the issue?"}, {"role": "user", \
            "content": "I can't log in after resetting my password."}], "duration": 180, "callType": "phone"}
            """, 1
        ),
        (
            "mixed batch",
            """
            {"events": [{"conversation_id": "conv-123", "role": "user", "message": "What is the weather?"}, \
            {"messageType": "channel", "id": "msg-001", "conversationId": "support-thread-456", \
            "message": "I need help with my subscription", "role": "user", "userId": "customer-789"}, \
            {"messageType": "tool_call", "id": "tool-001", "conversationId": "support-thread-456", \
            "name": "get_subscription", "toolCallRequest": {"user_id": "customer-789"}, \
            "toolCallResponse": {"plan": "pro", "status": "active"}}]}
            """, 3
        ),
        (
            "curl example",
            """
            {"events": [{"conversation_id": "conv-abc123", "role": "user", "message": "Hello, how are you?"}, \
            {"conversation_id": "conv-abc123", "role": "assistant", "message": "I am doing well, thank you for asking!", \
            "input_tokens": 8, "output_tokens": 12, "model": "gpt-4o", "provider": "openai"}]}
            """, 2
        ),
    ]

    @Test(arguments: documentedExamples.indices)
    func documentedExampleIsAccepted(_ index: Int) throws {
        let example = Self.documentedExamples[index]
        let bodies = try #require(F.bodies(example.line), "\(example.name): \(F.rejection(example.line) ?? "")")
        #expect(bodies.count == example.count, "\(example.name)")
        for body in bodies {
            let object = try #require(F.object(body), "\(example.name): stored body is not JSON: \(body)")
            #expect(object["timestamp"] is String)
            #expect(object["environment"] as? String == "production")
        }
    }

    @Test func documentedExamplesAllInOneEnvelope() throws {
        // Every bare example and every event of the envelope examples, mixed in one envelope.
        var events: [String] = []
        for example in Self.documentedExamples {
            let object = try #require(F.object(example.line))
            if let inner = object["events"] as? [Any] {
                for event in inner {
                    events.append(String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self))
                }
            } else {
                events.append(example.line)
            }
        }
        let line = #"{"environment":"staging","events":["# + events.joined(separator: ",") + "]}"
        let bodies = try #require(F.bodies(line), "\(F.rejection(line) ?? "")")
        #expect(bodies.count == events.count)
        #expect(bodies.allSatisfy { F.object($0)?["environment"] as? String == "staging" })
    }

    @Test func contentAsStringOrBlocksAndOptionalFields() {
        let line = F.standard(
            #""content":[{"type":"image","source":{"url":"https://x/y.png"}},{"type":"tool_result","tool_use_id":"t1","#
                + #""is_error":false,"content":[1,2]},{"type":"custom","anything":1}],"trace_id":"t","user_id":"u","#
                + #""model":"m","provider":"p","environment":"dev","prompt_id":"1","prompt_name":"n","prompt_version":"3","#
                + #""input_tokens":0,"output_tokens":1.5,"reasoning_tokens":2e3,"timestamp":"2024-01-15T10:30:00.5+01:00""#
        )
        #expect(F.bodies(line)?.count == 1, "\(F.rejection(line) ?? "")")
        #expect(F.bodies(#"{"conversation_id":"c","role":"system","content":"just a string"}"#)?.count == 1)
        #expect(F.bodies(#"{"conversation_id":"c","role":"user","content":[]}"#)?.count == 1)
    }

    @Test func nullOptionalFieldsCountAsAbsent() {
        let line = F.standard(
            #""trace_id":null,"input_tokens":null,"content_blocks":null,"timestamp":null,"messageType":null"#
        )
        #expect(F.bodies(line)?.count == 1, "\(F.rejection(line) ?? "")")
        let typed =
            #"{"messageType":"call","id":"c","conversationId":"s","transcript":[],"duration":null,"callType":null,"metadata":null}"#
        #expect(F.bodies(typed)?.count == 1, "\(F.rejection(typed) ?? "")")
    }

    @Test func unknownFieldsPassEverywhere() {
        let line = F.standard(
            #""extra":{"nested":[1,{"deep":true}]},"content_blocks":[{"type":"text","text":"t","x":1}],"y":null"#
        )
        #expect(F.bodies(line)?.count == 1)
        // A duplicated unknown field is not the validator's business.
        #expect(F.bodies(F.standard(#""extra":1,"extra":2"#))?.count == 1)
        // A field of another event shape is unknown here, whatever its value.
        #expect(F.bodies(F.standard(#""transcript":5,"to":[1],"body":false,"id":7"#))?.count == 1)
    }

    @Test func escapedKeysAndValuesAreDecoded() {
        // "r\u006fle" is "role", and "\u0075ser" is "user".
        #expect(F.bodies(#"{"conversation_id":"c","r\u006fle":"\u0075ser","message":"m"}"#)?.count == 1)
        let message = F.rejection(#"{"conversation_id":"c","r\u006fle":"b\u006ft","message":"m"}"#)
        #expect(message == #"role must be one of user, assistant, system (got "bot")"#)
    }

    // MARK: Rule violations, each as the second event of an envelope

    static let violations: [(event: String, fault: String)] = [
        // Standard events
        (#"{"role":"user","message":"m"}"#, "conversation_id is required (a non-empty string)"),
        (
            #"{"conversation_id":"","role":"user","message":"m"}"#,
            #"conversation_id must be a non-empty string (got "")"#
        ),
        (#"{"conversation_id":7,"role":"user","message":"m"}"#, "conversation_id must be a non-empty string (got 7)"),
        (#"{"conversation_id":null,"role":"user","message":"m"}"#, "conversation_id is required (a non-empty string)"),
        (#"{"conversation_id":"c","message":"m"}"#, "role is required (one of user, assistant, system)"),
        (
            #"{"conversation_id":"c","role":"bot","message":"m"}"#,
            #"role must be one of user, assistant, system (got "bot")"#
        ),
        (
            #"{"conversation_id":"c","role":"User","message":"m"}"#,
            #"role must be one of user, assistant, system (got "User")"#
        ),
        (
            #"{"conversation_id":"c","role":["user"],"message":"m"}"#,
            "role must be one of user, assistant, system (got an array)"
        ),
        (#"{"conversation_id":"c","role":"user"}"#, "message or content is required"),
        (#"{"conversation_id":"c","role":"user","message":null,"content":null}"#, "message or content is required"),
        (#"{"conversation_id":"c","role":"user","message":42}"#, "message must be a string (got 42)"),
        (
            #"{"conversation_id":"c","role":"user","content":{"type":"text"}}"#,
            "content must be a string or an array of content blocks (got an object)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","timestamp":"yesterday"}"#,
            #"timestamp must be an ISO 8601 date-time like 2024-01-15T10:30:00Z (got "yesterday")"#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","timestamp":1705314600}"#,
            "timestamp must be an ISO 8601 date-time like 2024-01-15T10:30:00Z (got 1705314600)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","timestamp":"2024-01-15"}"#,
            #"timestamp must be an ISO 8601 date-time like 2024-01-15T10:30:00Z (got "2024-01-15")"#
        ),
        (#"{"conversation_id":"c","role":"user","message":"m","trace_id":1}"#, "trace_id must be a string (got 1)"),
        (#"{"conversation_id":"c","role":"user","message":"m","user_id":true}"#, "user_id must be a string (got true)"),
        (#"{"conversation_id":"c","role":"user","message":"m","model":{}}"#, "model must be a string (got an object)"),
        (
            #"{"conversation_id":"c","role":"user","message":"m","provider":[]}"#,
            "provider must be a string (got an array)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","environment":1}"#,
            "environment must be a string (got 1)"
        ),
        (#"{"conversation_id":"c","role":"user","message":"m","prompt_id":1}"#, "prompt_id must be a string (got 1)"),
        (
            #"{"conversation_id":"c","role":"user","message":"m","prompt_name":1}"#,
            "prompt_name must be a string (got 1)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","prompt_version":2}"#,
            "prompt_version must be a string (got 2)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","input_tokens":-1}"#,
            "input_tokens must be a number >= 0 (got -1)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","output_tokens":"8"}"#,
            #"output_tokens must be a number >= 0 (got "8")"#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","reasoning_tokens":-0.5}"#,
            "reasoning_tokens must be a number >= 0 (got -0.5)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":"text"}"#,
            #"content_blocks must be an array of content blocks (got "text")"#
        ),
        (#"{"conversation_id":"c","role":"user","message":"m","role":"user"}"#, #"duplicate key "role""#),
        // Content blocks, in content arrays and content_blocks
        (
            #"{"conversation_id":"c","role":"user","content":[{"type":"text"}]}"#,
            #"events[1].content[0]: text is required (a string) in a block of type "text""#
        ),
        (
            #"{"conversation_id":"c","role":"user","content":[{"type":"text","text":5}]}"#,
            "events[1].content[0]: text must be a string (got 5)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"thinking"}]}"#,
            #"events[1].content_blocks[0]: text is required (a string) in a block of type "thinking""#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"text","text":"a"},{"type":"tool_use","tool_use_id":"x"}]}"#,
            #"events[1].content_blocks[1]: tool_name is required (a string) in a block of type "tool_use""#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"tool_use","tool_name":"x"}]}"#,
            #"events[1].content_blocks[0]: tool_use_id is required (a string) in a block of type "tool_use""#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"tool_result"}]}"#,
            #"events[1].content_blocks[0]: tool_use_id is required (a string) in a block of type "tool_result""#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"tool_result","tool_use_id":"t","is_error":"no"}]}"#,
            #"events[1].content_blocks[0]: is_error must be true or false (got "no")"#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"image"}]}"#,
            #"events[1].content_blocks[0]: source is required (any JSON value but null) in a block of type "image""#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":"image","source":null}]}"#,
            #"events[1].content_blocks[0]: source is required"#
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"text":"no type"}]}"#,
            "events[1].content_blocks[0]: type is required (a string such as text, thinking, tool_use, tool_result, image)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":[{"type":3}]}"#,
            "events[1].content_blocks[0]: type must be a string (got 3)"
        ),
        (
            #"{"conversation_id":"c","role":"user","message":"m","content_blocks":["text"]}"#,
            #"events[1].content_blocks[0]: must be a JSON object (a content block with a string "type") (got "text")"#
        ),
        (
            #"{"conversation_id":"c","role":"user","content":[{"type":"text","text":"a","text":"b"}]}"#,
            #"events[1].content[0]: duplicate key "text""#
        ),
        // messageType
        (
            #"{"messageType":"sms","id":"i","conversationId":"c"}"#,
            #"messageType must be one of channel, tool_call, email, call (got "sms")"#
        ),
        (
            #"{"messageType":5,"id":"i","conversationId":"c"}"#,
            "messageType must be one of channel, tool_call, email, call (got 5)"
        ),
        (
            #"{"messageType":"Channel","id":"i","conversationId":"c"}"#,
            #"messageType must be one of channel, tool_call, email, call (got "Channel")"#
        ),
        // channel
        (
            #"{"messageType":"channel","conversationId":"c","message":"m","role":"user"}"#,
            "id is required (a non-empty string)"
        ),
        (
            #"{"messageType":"channel","id":"","conversationId":"c","message":"m","role":"user"}"#,
            #"id must be a non-empty string (got "")"#
        ),
        (
            #"{"messageType":"channel","id":"i","message":"m","role":"user"}"#,
            "conversationId is required (a non-empty string)"
        ),
        (#"{"messageType":"channel","id":"i","conversationId":"c","role":"user"}"#, "message is required (a string)"),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m"}"#,
            "role is required (one of user, assistant, system)"
        ),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m","role":"agent"}"#,
            #"role must be one of user, assistant, system (got "agent")"#
        ),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m","role":"user","userId":9}"#,
            "userId must be a string (got 9)"
        ),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m","role":"user","metadata":"x"}"#,
            #"metadata must be a JSON object (got "x")"#
        ),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m","role":"user","timestamp":"2025-13-04T12:00:00Z"}"#,
            #"timestamp must be an ISO 8601 date-time like 2024-01-15T10:30:00Z (got "2025-13-04T12:00:00Z")"#
        ),
        (
            #"{"messageType":"channel","id":"i","conversationId":"c","message":"m","role":"user","environment":false}"#,
            "environment must be a string (got false)"
        ),
        (
            #"{"messageType":"channel","messageType":"channel","id":"i","conversationId":"c","message":"m","role":"user"}"#,
            #"duplicate key "messageType""#
        ),
        // tool_call
        (#"{"messageType":"tool_call","id":"i","conversationId":"c"}"#, "name is required (a string)"),
        (#"{"messageType":"tool_call","id":"i","conversationId":"c","name":1}"#, "name must be a string (got 1)"),
        (
            #"{"messageType":"tool_call","id":"i","conversationId":"c","name":"n","metadata":[]}"#,
            "metadata must be a JSON object (got an array)"
        ),
        // email
        (
            #"{"messageType":"email","id":"i","conversationId":"c","body":"b"}"#,
            "role is required (one of user, assistant)"
        ),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"system","body":"b"}"#,
            #"role must be one of user, assistant (got "system")"#
        ),
        (#"{"messageType":"email","id":"i","conversationId":"c","role":"user"}"#, "body is required (a string)"),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"user","body":"b","subject":1}"#,
            "subject must be a string (got 1)"
        ),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"user","body":"b","inReplyTo":1}"#,
            "inReplyTo must be a string (got 1)"
        ),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"user","body":"b","from":["a"]}"#,
            "from must be a string (got an array)"
        ),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"user","body":"b","to":"a@b.c"}"#,
            #"to must be an array of strings (got "a@b.c")"#
        ),
        (
            #"{"messageType":"email","id":"i","conversationId":"c","role":"user","body":"b","to":["a@b.c",7]}"#,
            "events[1]: to[1] must be a string (got 7)"
        ),
        // call
        (
            #"{"messageType":"call","id":"i","conversationId":"c"}"#,
            "transcript is required (an array of transcript entries)"
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":"hello"}"#,
            #"transcript must be an array of transcript entries (got "hello")"#
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"content":"hi"}]}"#,
            "events[1].transcript[0]: role is required (a string)"
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"role":"user","content":"a"},{"role":"agent"}]}"#,
            "events[1].transcript[1]: content is required (a string)"
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"role":1,"content":"a"}]}"#,
            "events[1].transcript[0]: role must be a string (got 1)"
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[{"role":"u","content":"a","timestamp":"noon"}]}"#,
            #"events[1].transcript[0]: timestamp must be an ISO 8601 date-time like 2024-01-15T10:30:00Z (got "noon")"#
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":["hi"]}"#,
            #"events[1].transcript[0]: must be a JSON object (a transcript entry with role and content) (got "hi")"#
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[],"duration":-3}"#,
            "duration must be a number >= 0 (got -3)"
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[],"duration":"180"}"#,
            #"duration must be a number >= 0 (got "180")"#
        ),
        (
            #"{"messageType":"call","id":"i","conversationId":"c","transcript":[],"callType":"fax"}"#,
            #"callType must be one of phone, video, voice (got "fax")"#
        ),
        // Not an event at all
        ("5", "events[1]: must be a JSON object (got 5)"),
        (#""event""#, #"events[1]: must be a JSON object (got "event")"#),
        ("null", "events[1]: must be a JSON object (got null)"),
        ("[]", "events[1]: must be a JSON object (got an array)"),
    ]

    @Test(arguments: violations.indices)
    func violationIsRejectedNamingIndexAndField(_ index: Int) throws {
        let (event, fault) = Self.violations[index]
        let message = try #require(F.rejection(F.secondOfTwo(event)), "accepted: \(event)")
        let expected = fault.hasPrefix("events[") ? fault : "events[1]: " + fault
        #expect(message.contains(expected), "got: \(message)")
        #expect(!message.contains("events[0]"), "the valid first event was blamed: \(message)")
        // As a bare event the same fault has no index prefix.
        if event.hasPrefix("{") {
            let bare = try #require(F.rejection(event))
            let unprefixed = expected.replacingOccurrences(of: "events[1]: ", with: "")
                .replacingOccurrences(of: "events[1].", with: "")
            #expect(bare.contains(unprefixed), "got: \(bare)")
            #expect(!bare.contains("events["), "got: \(bare)")
        }
    }

    @Test func faultsInsideFieldsOfAnotherShapeAreIgnored() {
        // `content` is not a field of call events, and `transcript` is not one of standard events.
        let call = #"{"messageType":"call","id":"i","conversationId":"c","transcript":[],"content":[{"type":"text"}]}"#
        #expect(F.bodies(call)?.count == 1, "\(F.rejection(call) ?? "")")
        #expect(F.bodies(F.standard(#""transcript":[5],"to":[1]"#))?.count == 1)
    }

    @Test func everyFaultOfTheLineIsNamed() throws {
        let line = """
            {"environment": 3, "extra": true, "events": [
              {"conversation_id": "c", "role": "bot"},
              7,
              {"messageType": "email", "id": "e", "conversationId": "c", "role": "user", "body": "b", "to": [1]},
              {"conversation_id": "c", "role": "user", "message": "ok"},
              {"messageType": "call", "id": "", "conversationId": "c", "transcript": [{"role": "user"}], "duration": -1}
            ]}
            """
        let message = try #require(F.rejection(line))
        let expected = [
            "environment must be a string (got 3)",
            #"unknown envelope key "extra": an envelope holds only "environment" and "events""#,
            #"events[0]: role must be one of user, assistant, system (got "bot")"#,
            "events[0]: message or content is required",
            "events[1]: must be a JSON object (got 7)",
            "events[2]: to[0] must be a string (got 1)",
            #"events[4]: id must be a non-empty string (got "")"#,
            "events[4]: duration must be a number >= 0 (got -1)",
            "events[4].transcript[0]: content is required (a string)",
        ]
        for fault in expected {
            #expect(message.contains(fault), "missing \(fault) in: \(message)")
        }
        #expect(message.components(separatedBy: "; ").count == expected.count, "\(message)")
        #expect(!message.contains("events[3]"))
    }

    @Test func bareEventFaultsHaveNoIndex() {
        let message = F.rejection(#"{"role":"bot","input_tokens":-5}"#)
        #expect(
            message == "conversation_id is required (a non-empty string); "
                + #"role must be one of user, assistant, system (got "bot"); "#
                + "input_tokens must be a number >= 0 (got -5); "
                + "message or content is required (message: a string, or content: a string or an array of content blocks)"
        )
    }

    @Test func longValuesAreShortenedInMessages() throws {
        let long = String(repeating: "abcdefghij", count: 100)
        let message = try #require(F.rejection(#"{"conversation_id":"c","role":""# + long + #"","message":"m"}"#))
        #expect(message == #"role must be one of user, assistant, system (got ""# + long.prefix(40) + #""…)"#)
        let number = String(repeating: "9", count: 1000)
        let numberMessage = try #require(F.rejection(F.standard(#""model":"# + number)))
        #expect(numberMessage == "model must be a string (got " + number.prefix(40) + "…)")
    }

    // MARK: Envelope rules

    @Test func envelopeRules() {
        #expect(F.rejection(#"{"events":[]}"#)?.hasPrefix("events must not be empty") == true)
        #expect(F.rejection(#"{"events":{}}"#)?.hasPrefix("events must be an array of event objects") == true)
        #expect(F.rejection(#"{"events":null}"#)?.hasPrefix("events must be an array of event objects") == true)
        #expect(F.rejection(#"{"events":"x"}"#) == #"events must be an array of event objects (got "x")"#)
        #expect(
            F.rejection(#"{"env":"prod","events":[{"conversation_id":"c","role":"user","message":"m"}]}"#)
                == #"unknown envelope key "env": an envelope holds only "environment" and "events""#
        )
        // Event fields at the envelope level would be dropped too.
        #expect(
            F.rejection(#"{"role":"user","events":[{"conversation_id":"c","role":"user","message":"m"}]}"#)
                == #"unknown envelope key "role": an envelope holds only "environment" and "events""#
        )
        #expect(
            F.rejection(#"{"environment":["a"],"events":[{"conversation_id":"c","role":"user","message":"m"}]}"#)
                == "environment must be a string (got an array)"
        )
        let twice =
            #"{"events":[{"conversation_id":"c","role":"user","message":"m"}],"events":[{"conversation_id":"c","role":"user","message":"m"}]}"#
        #expect(F.rejection(twice)?.hasPrefix(#"duplicate key "events""#) == true)
        // `events` may come after `environment`, and `environment` after `events`.
        #expect(
            F.bodies(#"{"events":[{"conversation_id":"c","role":"user","message":"m"}],"environment":"qa"}"#)?
                .first.flatMap { F.object($0)?["environment"] as? String } == "qa"
        )
    }

    @Test func nonObjectTopLevelIsRejected() {
        for line in [
            "[]", "[{}]", "\"event\"", "42", "true", "null", #"[{"conversation_id":"c","role":"user","message":"m"}]"#,
        ] {
            #expect(
                F.rejection(line) == #"line must be a JSON object: one event, or an envelope {"events":[...]}"#,
                "\(line)"
            )
        }
    }
}
