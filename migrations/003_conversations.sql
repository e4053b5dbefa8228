-- 003: the agent's memory, per chat. Messages are stored in the OpenAI shape
-- (role, content, tool calls as JSON text, the id a tool result answers) so a
-- stored history is valid for any compatible server.
CREATE TABLE conversation_messages (
  id           INTEGER PRIMARY KEY,
  chat_id      INTEGER NOT NULL,
  role         TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
  content      TEXT    NOT NULL DEFAULT '',
  tool_calls   TEXT,
  tool_call_id TEXT,
  created_at   INTEGER NOT NULL
);
CREATE INDEX idx_conversation_chat ON conversation_messages(chat_id, id);
