/// Valid event lines to feed the agent.
public enum EventLines {
    public static func standard(_ index: Int, conversation: String = "conv-test") -> String {
        "{\"conversation_id\":\"\(conversation)\",\"role\":\"user\",\"message\":\"message \(index)\",\"seq\":\(index)}"
    }

    /// Roughly 300 bytes, like the benchmark's events.
    public static func typical(_ index: Int) -> String {
        "{\"conversation_id\":\"conv-\(index % 97)\",\"role\":\"assistant\",\"message\":\"The capital of France is Paris. "
            + "It has been the capital since the tenth century and is home to the Louvre.\",\"model\":\"gpt-4o\","
            + "\"provider\":\"openai\",\"input_tokens\":12,\"output_tokens\":48,\"user_id\":\"user-\(index % 13)\",\"seq\":\(index)}"
    }
}
