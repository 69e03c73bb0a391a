"""The conversation summarizer: utterances (speaker, time, text) -> key points, decisions, open
questions and to-dos with owners and resolved due dates. Meetings and group chats share it."""
