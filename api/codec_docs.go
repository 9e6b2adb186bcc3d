package api

// The remote codec's documentation and schemas.
var (
	codecHeaders = []param{{"X-Namespace", "string", "the Temporal namespace of the payloads (must be the platform's)"}}

	docCodecDecode = operation{Summary: "Temporal remote codec: decrypt the caller's tenant's payloads (another tenant's: 403, nothing decoded; unencrypted ones pass through). Bearer key or codec session cookie", Tag: "codec",
		Body: "CodecPayloads", Headers: codecHeaders,
		Responses: map[int]string{200: "CodecPayloads", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docCodecEncode = operation{Summary: "Temporal remote codec: encrypt payloads with the caller's tenant's data key. Bearer key or codec session cookie", Tag: "codec",
		Body: "CodecPayloads", Headers: codecHeaders,
		Responses: map[int]string{200: "CodecPayloads", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docCodecPreflight = operation{Summary: "CORS preflight of the Temporal UI's codec calls (CODEC_ALLOWED_ORIGINS)", Tag: "codec",
		Responses: map[int]string{204: "Text"}}
	docCodecSignInPage = operation{Summary: "The codec sign-in page (HTML): an operator pastes a key to read payloads in the Temporal UI", Tag: "codec",
		Responses: map[int]string{200: "Text"}}
	docCodecSignIn = operation{Summary: "Sign in to the codec: sets an HttpOnly, SameSite=Strict session cookie for /codec, valid one hour (HTML answer)", Tag: "codec",
		Body: "form:CodecSignIn", Responses: map[int]string{200: "Text", 400: "Text", 401: "Text", 403: "Text"}}
)

func codecSchemas() obj {
	payload := props([]string{"data"}, obj{
		"metadata": obj{"type": "object", "additionalProperties": obj{"type": "string", "contentEncoding": "base64"}},
		"data":     obj{"type": "string", "contentEncoding": "base64"},
	})
	return obj{
		"CodecPayloads": props([]string{"payloads"}, obj{"payloads": obj{"type": "array", "items": payload}}),
		"CodecSignIn":   props([]string{"key"}, obj{"key": obj{"type": "string", "description": "an operator or admin API key"}}),
	}
}
