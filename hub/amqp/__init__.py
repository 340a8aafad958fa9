"""RabbitMQ: the broker and its declarations, the work-queue intake, the confirmed publisher."""
