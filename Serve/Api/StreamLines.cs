using System.Net.WebSockets;
using System.Text;

namespace NativeASD.Serve.Api;

/// <summary>The client side of a machine's WebSocket stream: the server's text messages, one line each (readings, then the summary).</summary>
public static class StreamLines
{
    /// <summary>Hands every whole text message to <paramref name="onLine"/> until the server closes the socket; null then,
    /// or the problem when the connection broke instead.</summary>
    public static async Task<string?> ReceiveAsync(WebSocket socket, Action<string> onLine, CancellationToken cancel = default)
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult r;
            try { r = await socket.ReceiveAsync(buffer, cancel); }
            catch (WebSocketException e) { return e.Message; }
            if (r.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, r.Count);
            if (!r.EndOfMessage) continue;
            onLine(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
            message.SetLength(0);
        }
    }
}
